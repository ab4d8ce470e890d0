"""The demo's steps about the other payers and the psychologist (see :mod:`ehealth_hub.demo`).

* an insured employee's claim: Ines (covered by her employer's AG Insurance plan) consents that
  AG receives her claim's minimal data; Dr Vermeulen's video consultation is reimbursed by her
  mutuality, then AG's ClaimResponse comes back on the same Task;
* the psychologist's summary: Koen De Smet (clinical psychologist) reads An's summary without the
  sections a psychologist may not see, and the OperationOutcome says which;
* the psychologist's session: Koen bills Thomas's first-line session (increased reimbursement),
  recorded on MyCareNet Mental Health Care (the simulator: an ASSUMED message shape), and the
  ClaimResponse carries the EUR 4 patient share.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    psychology_session_claim,
    teleconsultation_claim,
)
from ehealth_hub.fixtures.insurance import insurer_consent, with_insurer_cover

if TYPE_CHECKING:
    from ehealth_hub.demo import Report


def _amount(response: dict[str, Any], code: str) -> str:
    for line in response.get("total", []):
        if any(c.get("code") == code for c in line.get("category", {}).get("coding", [])):
            return f"EUR {line['amount']['value']:.2f}"
    return "EUR ?"


async def _claim_task(app: SandboxApp, claim_id: str) -> dict[str, Any]:
    """The claim's Task once the insurer's ClaimResponse is on it (or as it stands after 20 s)."""
    task: dict[str, Any] = {}
    for _ in range(200):
        found = (await app.get("/fhir/Task", focus=f"Claim/{claim_id}")).json()
        task = next(
            (
                e["resource"]
                for e in found.get("entry", [])
                if e["resource"]["code"]["coding"][0]["code"] == "teleconsultation-claim"
            ),
            {},
        )
        if task:  # read by id: the Task shows the insurer's delivery (a search lists Tasks)
            task = (await app.get(f"/fhir/Task/{task['id']}")).json()
        if any(c.get("id") == "insurer" for c in task.get("contained", [])):
            return task
        await asyncio.sleep(0.1)
    return task


async def insured_claim(app: SandboxApp, report: Report, now: datetime) -> None:
    """Step: Ines's claim reimbursed by her mutuality, then by AG Insurance."""
    ines, sarah = sandbox.patient("ines"), sandbox.practitioner("sarah")
    await app.post("/fhir/Consent", consultation_consent(ines, sarah, start=now))
    await app.post("/fhir/Consent", insurer_consent(ines, sarah, start=now))
    claim_id = f"demo-ag-{now:%Y%m%d%H%M%S}"
    claim = with_insurer_cover(
        teleconsultation_claim(claim_id, ines, sarah, serviced=now.date().isoformat()), ines
    )
    answer = await app.post("/fhir/Claim/$submit", claim)
    task = await _claim_task(app, claim_id)
    contained = {c.get("id"): c for c in task.get("contained", [])}
    body: dict[str, Any] = answer.json()
    mutuality = body if body.get("resourceType") == "ClaimResponse" else _answered(task)
    insurer = contained.get("insurer", {})
    report.add(
        "4 Ines (employee, AG Insurance plan): mutuality, then insurer",
        mutuality.get("outcome") == "complete" and insurer.get("outcome") == "complete",
        f"mutuality {ines.insurability.mutuality} paid {_amount(mutuality, 'benefit')}, patient "
        f"share {_amount(mutuality, 'copay')}; AG Insurance paid {_amount(insurer, 'benefit')}"
        if insurer
        else f"HTTP {answer.status_code}; no insurer answer: {await _follower(app, task)}",
    )


def _answered(task: dict[str, Any]) -> dict[str, Any]:
    """The mutuality's ClaimResponse in a completed claim Task's output."""
    for output in task.get("output", []):
        if output["type"]["text"] == "claimResponse":
            answer: dict[str, Any] = json.loads(output["valueString"])
            return answer
    return {}


async def _follower(app: SandboxApp, task: dict[str, Any]) -> str:
    """Where the insurer's delivery stands (its Task's status and reason)."""
    ref = next(
        (
            o["valueReference"]["reference"]
            for o in task.get("output", [])
            if o["type"]["text"] == "insurer-task"
        ),
        None,
    )
    if ref is None:
        return f"no insurer delivery on Task/{task.get('id')}"
    follower = (await app.get(f"/fhir/{ref}")).json()
    reason = (follower.get("statusReason") or {}).get("text", "")
    return f"{ref} {follower.get('status')} {reason}".strip()


async def psychologist_summary(app: SandboxApp, report: Report, now: datetime) -> None:
    """Step: Koen (clinical psychologist) reads An's summary without what he may not see."""
    an, koen = sandbox.patient("an"), sandbox.practitioner("koen")
    await app.post("/fhir/Consent", consultation_consent(an, koen, start=now))
    answer = await app.summary(an.ssin)
    resources = [e["resource"] for e in answer.json().get("entry", [])]
    sections = [s["title"] for s in (resources[0].get("section", []) if resources else [])]
    withheld = [
        i["expression"][0].rsplit(":", 1)[1]
        for r in resources
        if r["resourceType"] == "OperationOutcome"
        for i in r["issue"]
        if i.get("code") == "suppressed"
    ]
    report.add(
        "5 psychologist Koen reads An's summary (access matrix)",
        answer.status_code == 200 and "Medications" not in sections and bool(withheld),
        f"sections {', '.join(sections) or 'none'}; withheld: {', '.join(withheld)}",
    )


async def psychologist_session(app: SandboxApp, report: Report, now: datetime) -> None:
    """Step: Koen bills Thomas's session as a psychologist's session (MHC, acceptance-only)."""
    thomas, koen = sandbox.patient("thomas"), sandbox.practitioner("koen")
    await app.post("/fhir/Consent", consultation_consent(thomas, koen, start=now))
    claim_id = f"demo-psy-{now:%Y%m%d%H%M%S}"
    claim = psychology_session_claim(claim_id, thomas, koen, serviced=now.date().isoformat())
    answer = await app.post("/fhir/Claim/$submit", claim)
    body: dict[str, Any] = answer.json()
    for _ in range(200 if body.get("resourceType") == "Task" else 0):  # MHC slow: ask the Task
        answered = _answered((await app.get(f"/fhir/Task/{body['id']}")).json())
        if answered:
            body = answered
            break
        await asyncio.sleep(0.1)
    report.add(
        "6 psychologist Koen bills Thomas's session (MyCareNet MHC, assumed shape)",
        body.get("outcome") == "complete" and _amount(body, "copay") == "EUR 4.00",
        f"session psy-fl-individual: patient share {_amount(body, 'copay')} (BIM), "
        f"reimbursed {_amount(body, 'benefit')}"
        if body.get("outcome")
        else f"HTTP {answer.status_code}",
    )
