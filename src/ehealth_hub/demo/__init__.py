"""``ehealth-hub demo``: the sandbox end to end, printed as a report a newcomer can read.

Boots the hub exactly as ``serve`` would (composition root, migrations, API app, SQLite, sandbox
PKI, every simulator in-process) and plays the three journeys over HTTP as the video-consultation
app would, with the SMART backend-services token of the sandbox client ``consult-app`` acting for
Dr Sarah Vermeulen (video GP):

1. consent then records: record An's consent for the consultation, read her records
   (``Patient/$summary``: RSW, Vitalink and her GP's system in one document), and show that a read
   for Sofie (no national consent) is refused with the reasons; find An's GP from her global
   medical file (``GET /fhir/Patient``: the GMD holder MyCareNet names, with the eHealthBox);
2. the note: send the consultation note without naming a GP; the hub addresses it to the GMD
   holder and it travels through the outbox to that GP's eHealthBox (shown from the eHealthBox
   simulator's inspection endpoint);
3. the claim: first ask An's insurability on the day (``CoverageEligibilityRequest/$submit``:
   mutuality, CT1/CT2, third-party payment), then bill the teleconsultation (101673) to her
   mutuality, which answers; a claim for Thomas (no GMD holder) relying on the GMD is refused
   before anything is sent (:mod:`ehealth_hub.demo.gmd`);
4. the other payers and the psychologist (:mod:`ehealth_hub.demo.payers`): an employee's claim
   reimbursed by her mutuality, then by her private insurer; the psychologist's summary without
   the sections he may not see.

Exit code 0 when every step did what it should.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from ehealth_hub.api import create_app
from ehealth_hub.auth.urls import token_endpoint
from ehealth_hub.bootstrap import Container
from ehealth_hub.demo import gmd as demo_gmd
from ehealth_hub.demo import payers
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consult_app import SandboxApp
from ehealth_hub.fixtures.consultation import (
    consultation_consent,
    consultation_note,
    teleconsultation_claim,
)
from ehealth_hub.settings import Settings


@dataclass
class Report:
    """The steps played and what they showed."""

    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, step: str, ok: bool, detail: str) -> bool:
        self.rows.append((step, ok, detail))
        return ok

    @property
    def failures(self) -> int:
        return sum(not ok for _, ok, _ in self.rows)

    def table(self) -> Table:
        table = Table(title="ehealth-hub sandbox demo", show_lines=True)
        table.add_column("step", style="bold")
        table.add_column("result")
        table.add_column("what happened")
        for step, ok, detail in self.rows:
            table.add_row(step, "[green]ok[/green]" if ok else "[red]FAILED[/red]", detail)
        return table


def _issues(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    issues = body.get("issue", []) if isinstance(body, dict) else []
    return "; ".join(str(i.get("diagnostics", "")) for i in issues) or response.text[:200]


async def _health(client: httpx.AsyncClient, report: Report) -> None:
    # the first start derives the sandbox PKI (seconds): wait for readiness like a load balancer
    for _ in range(120):
        ready = await client.get("/health/ready")
        if ready.status_code == 200:
            break
        await asyncio.sleep(0.5)
    checks = ready.json().get("checks", {})
    failing = sorted(name for name, c in checks.items() if c.get("status") != "pass")
    detail = f"{len(checks)} checks pass" if not failing else f"failing: {', '.join(failing)}"
    report.add("hub ready (database + every simulator)", ready.status_code == 200, detail)


async def _records(app: SandboxApp, report: Report, now: datetime) -> None:
    an, sofie, sarah = (
        sandbox.patient("an"),
        sandbox.patient("sofie"),
        sandbox.practitioner("sarah"),
    )
    created = await app.post("/fhir/Consent", consultation_consent(an, sarah, start=now))
    report.add(
        "1a consent recorded for An",
        created.status_code in (200, 201),
        f"HTTP {created.status_code}, Consent/{created.json().get('id', '?')}"
        if created.status_code < 300
        else _issues(created),
    )
    summary = await app.summary(an.ssin)
    if summary.status_code == 200:
        entries = [e["resource"] for e in summary.json()["entry"]]
        reported: dict[str, int] = {}  # facts each source reported (a fact from two counts twice)
        for p in entries:
            if p["resourceType"] == "Provenance":
                for agent in p["agent"]:
                    name = agent["who"].get("display", "?")
                    reported[name] = reported.get(name, 0) + len(p["target"])
        sources = [f"{name} ({count})" for name, count in reported.items()]
        kinds = sorted({e["resourceType"] for e in entries} - {"Provenance", "Composition"})
        missing = [e for e in entries if e["resourceType"] == "OperationOutcome"]
        report.add(
            "1b An's records ($summary)",
            not missing,
            f"FHIR document, {len(entries)} entries from {', '.join(sources)}: {', '.join(kinds)}",
        )
    else:
        report.add(
            "1b An's records ($summary)", False, f"HTTP {summary.status_code}: {_issues(summary)}"
        )
    await app.post("/fhir/Consent", consultation_consent(sofie, sarah, start=now))
    refused = await app.summary(sofie.ssin)
    report.add(
        "1c Sofie's records without national consent",
        refused.status_code == 403,
        f"refused, HTTP {refused.status_code}: {_issues(refused)}",
    )


async def _note(app: SandboxApp, container: Container, report: Report, now: datetime) -> None:
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    gp = sandbox.practitioner(an.gp)
    text = "Video consultation: fever for 2 days, no alarm signs. Paracetamol; call back if worse."
    accepted = await app.post(
        "/fhir/DocumentReference", consultation_note(an, sarah, text, now=now, name_gp=False)
    )
    if accepted.status_code != 202:
        report.add(
            "2a note naming no GP accepted",
            False,
            f"HTTP {accepted.status_code}: {_issues(accepted)}",
        )
        return
    report.add(
        "2a note naming no GP accepted",
        True,
        f"202 + Task {accepted.headers['location']}",
    )
    task = await app.wait_task(accepted.headers["location"])
    box = await _gp_box(container, gp.nihii)
    rule = demo_gmd.recipient_rule(task)
    report.add(
        f"2b note in Dr {gp.family}'s eHealthBox (the GMD holder; Task: {rule})",
        task.get("status") == "completed"
        and bool(box)
        and rule == "note.recipient.gmd-holder"
        and demo_gmd.owner_nihii(task) == gp.nihii,
        f"Task {task.get('status')}; eHealthBox simulator shows {len(box)} message(s): "
        + ", ".join(f"{m.get('title')} from {m.get('from')}" for m in box),
    )


async def _gp_box(container: Container, nihii: str) -> list[dict[str, Any]]:
    simulators = container.connectors.simulators
    if simulators is None:
        return []
    transport = httpx.ASGITransport(app=simulators.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulators.sandbox") as sims:
        view = (await sims.get("/_inspect/ehbox")).json()
    return [
        message
        for box, folders in view.get("boxes", {}).items()
        if nihii in box
        for messages in folders.values()
        for message in messages
    ]


async def _insurability(app: SandboxApp, report: Report, now: datetime) -> None:
    an = sandbox.patient("an")
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": {"system": SSIN_SYSTEM, "value": an.ssin}},
        "servicedDate": now.date().isoformat(),
    }
    answer = await app.post("/fhir/CoverageEligibilityRequest/$submit", request)
    body: dict[str, Any] = answer.json()
    coverage: dict[str, Any] = next(iter(body.get("contained", [])), {})
    classes = ", ".join(f"{c.get('name')} {c.get('value')}" for c in coverage.get("class", []))
    report.add(
        "3 insurability of An before billing",
        answer.status_code == 200 and body.get("outcome") == "complete",
        f"{body.get('disposition')}; membership {coverage.get('subscriberId')}, {classes}"
        if answer.status_code == 200
        else f"HTTP {answer.status_code}: {_issues(answer)}",
    )


async def _claim(app: SandboxApp, report: Report, now: datetime) -> None:
    an, sarah = sandbox.patient("an"), sandbox.practitioner("sarah")
    claim = teleconsultation_claim(
        f"demo-{now:%Y%m%d%H%M%S}", an, sarah, serviced=now.date().isoformat()
    )
    answer = await app.post("/fhir/Claim/$submit", claim)
    body: dict[str, Any] = answer.json()
    if answer.status_code == 202:
        task = await app.wait_task(answer.headers["location"])
        body = next(
            (c for c in task.get("contained", []) if c.get("resourceType") == "ClaimResponse"), task
        )
    outcome = body.get("outcome") if body.get("resourceType") == "ClaimResponse" else None
    insurer = (body.get("insurer") or {}).get("display") or (body.get("insurer") or {}).get(
        "identifier", {}
    ).get("value", "")
    report.add(
        f"3 teleconsultation 101673 billed to mutuality {an.insurability.mutuality}",
        outcome in ("complete", "partial"),
        f"ClaimResponse outcome {outcome} {('from ' + insurer) if insurer else ''}"
        if outcome
        else f"HTTP {answer.status_code}: {_issues(answer)}",
    )


async def play(client: httpx.AsyncClient, container: Container, settings: Settings) -> Report:
    """The three journeys against the hub behind ``client`` (its sandbox ``container``)."""
    report = Report()
    now = datetime.now(UTC)
    await _health(client, report)
    consult = SandboxApp(
        client, "consult-app", token_endpoint(settings), sandbox.practitioner("sarah").nihii
    )
    await consult.token()
    report.add(
        "token for consult-app acting for Dr Vermeulen",
        True,
        "SMART backend services (JWT assertion)",
    )
    await _records(consult, report, now)
    await demo_gmd.gp_lookup(consult, report)
    await _note(consult, container, report, now)
    await _insurability(consult, report, now)
    await _claim(consult, report, now)
    await demo_gmd.claim_refused(consult, report, now)
    await payers.insured_claim(consult, report, now)
    koen = sandbox.practitioner("koen").nihii
    psychologist = SandboxApp(client, "consult-app", token_endpoint(settings), koen)
    await payers.psychologist_summary(psychologist, report, now)
    return report


async def run_demo(settings: Settings, console: Console) -> int:
    """Run the sandbox journeys; 0 when every step succeeded."""
    if not settings.is_sandbox:
        console.print("[red]the demo runs only with EHEALTH_HUB_ENV=sandbox[/red]")
        return 2
    # the report is for people: only warnings, as readable lines, go to the log
    quiet = settings.log.model_copy(update={"level": "warning", "json_output": False})
    settings = settings.model_copy(update={"log": quiet})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        transport = httpx.ASGITransport(app=app)
        base = settings.api.base_url()
        async with httpx.AsyncClient(transport=transport, base_url=base, timeout=60) as client:
            if container.connectors is not None:
                console.print(
                    "booting the sandbox: PKI and simulators (the first run derives keys)"
                )
                await container.connectors.get()
            report = await play(client, container, settings)
    console.print(report.table())
    verdict = (
        "[green]all journeys succeeded[/green]"
        if not report.failures
        else f"[red]{report.failures} step(s) failed[/red]"
    )
    console.print(verdict)
    _console_login(settings, console)
    return 1 if report.failures else 0


def _console_login(settings: Settings, console: Console) -> None:
    """Where the operations console is, and the sandbox sign-ins (public sandbox secrets)."""
    if not settings.console.enabled:
        return
    logins = ", ".join(f"{user} / {password}" for user, password in sandbox.CONSOLE_LOGINS.items())
    console.print(
        f"operations console: {settings.api.base_url()}/console "
        f"(run `ehealth-hub serve`; sandbox sign-in {logins})"
    )
