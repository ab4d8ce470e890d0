"""The demo's steps about the "relation fixe médecin-patient" (see :mod:`ehealth_hub.demo`).

* the GP found from the GMD: ``GET /fhir/Patient?identifier=...&_include=Patient:general-
  practitioner`` for An names the holder of her global medical file (MyCareNet) and the
  eHealthBox the AddressBook gives for them;
* one claim refused before anything is sent: Thomas has no GMD holder, so a video consultation
  whose only declared treatment relationship is "the GMD" is refused (422,
  ``billing.treatment-relationship``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ehealth_hub.fhir.profiles import NIHDI_SYSTEM, SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    teleconsultation_claim,
    treatment_relationship,
)
from ehealth_hub.mappings.gmd_fhir import EHEALTHBOX_SYSTEM, INCLUDE

if TYPE_CHECKING:
    from ehealth_hub.demo import Report


async def gp_lookup(app: SandboxApp, report: Report) -> None:
    """Step: An's GP from her GMD, with the eHealthBox."""
    an = sandbox.patient("an")
    answer = await app.get("/fhir/Patient", identifier=f"{SSIN_SYSTEM}|{an.ssin}", _include=INCLUDE)
    if answer.status_code != 200:
        report.add("1d An's GP from her GMD", False, f"HTTP {answer.status_code}: {answer.text}")
        return
    resources = [e["resource"] for e in answer.json().get("entry", [])]
    patient: dict[str, Any] = next((r for r in resources if r["resourceType"] == "Patient"), {})
    gp: dict[str, Any] = next(iter(patient.get("generalPractitioner", [])), {})
    boxes = [
        f"{i.get('type', {}).get('text')} {i.get('value')}"
        for r in resources
        if r["resourceType"] == "PractitionerRole"
        for i in r.get("identifier", [])
        if i.get("system") == EHEALTHBOX_SYSTEM
    ]
    nihii = gp.get("identifier", {}).get("value", "")
    report.add(
        "1d An's GP from her GMD (MyCareNet)",
        nihii == sandbox.practitioner(an.gp).nihii and bool(boxes),
        f"{gp.get('display')}, NIHII {nihii}; eHealthBox {', '.join(boxes) or 'none'}",
    )


async def claim_refused(app: SandboxApp, report: Report, now: datetime) -> None:
    """Step: Thomas has no GMD holder; a claim relying on the GMD is refused before sending."""
    thomas, sarah = sandbox.patient("thomas"), sandbox.practitioner("sarah")
    await app.post("/fhir/Consent", consultation_consent(thomas, sarah, start=now))
    claim = teleconsultation_claim(
        f"demo-refused-{now:%Y%m%d%H%M%S}",
        thomas,
        sarah,
        serviced=now.date().isoformat(),
        relationships=[treatment_relationship("gmd")],
    )
    answer = await app.post("/fhir/Claim/$submit", claim)
    body: dict[str, Any] = answer.json()
    issue: dict[str, Any] = next(iter(body.get("issue", [])), {})
    report.add(
        "3c Thomas's claim without a treatment relationship refused",
        answer.status_code == 422
        and (issue.get("details") or {}).get("text") == "billing.treatment-relationship",
        f"HTTP {answer.status_code} ({(issue.get('details') or {}).get('text')}): "
        f"{issue.get('diagnostics', answer.text[:200])}",
    )


def recipient_rule(task: dict[str, Any]) -> str:
    """The rule the Task says chose the note's recipient."""
    for entry in task.get("input", []):
        if entry.get("type", {}).get("text") == "recipient-rule":
            return str(next((v for k, v in entry.items() if k.startswith("value")), ""))
    return ""


def owner_nihii(task: dict[str, Any]) -> str:
    """The NIHII of the Task's owner (the note's recipient)."""
    ident = (task.get("owner") or {}).get("identifier") or {}
    return str(ident.get("value", "")) if ident.get("system") == NIHDI_SYSTEM else ""
