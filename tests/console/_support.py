"""The console's test hub: the sandbox app with a ``lab`` destination that fails until fixed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ehealth_hub.bootstrap import Container
from ehealth_hub.core.errors import DownstreamUnavailable
from ehealth_hub.delivery.outbox import OutboxItem, TaskInfo, enqueue
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.settings import Settings, load_settings

PATIENT = sandbox.patient("an")
LOGINS = sandbox.CONSOLE_LOGINS
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Lab:
    """A destination that is down until ``fixed``; counts what it received."""

    fixed: bool = False
    received: list[str] = field(default_factory=list)

    async def __call__(self, payload: Mapping[str, Any], message_id: str) -> Mapping[str, Any]:
        if not self.fixed:
            raise DownstreamUnavailable("lab system down", system="lab", operation="deliver")
        self.received.append(message_id)
        return {"accepted": message_id}


def console_settings(tmp_path: Path, pki_dir: Path, database_url: str, **extra: Any) -> Settings:
    """Sandbox settings: the ``lab`` destination gives up after one attempt (dead at once)."""
    delivery = {"policies": {"lab": {"max_attempts": 1}}, **extra.pop("delivery", {})}
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        trust={"pki_dir": pki_dir},
        log={"level": "warning", "json_output": True},
        delivery=delivery,
        **extra,
    )


async def lab_delivery(container: Container, note: str = "1") -> OutboxItem:
    """A delivery of a lab result for the sandbox patient An."""
    async with container.engine.begin() as conn:
        return await enqueue(
            conn,
            kind="lab-result",
            destination="lab",
            ordering_key=PATIENT.ssin,
            payload={"result": f"glucose {note}", "patient": PATIENT.ssin},
            task=TaskInfo(
                focus=f"Observation/{note}",
                for_={"identifier": {"system": SSIN_SYSTEM, "value": PATIENT.ssin}},
            ),
        )


def csrf_in(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign ``username`` in (sandbox password); the session's CSRF token."""
    token = csrf_in((await client.get("/console/login")).text)
    answer = await client.post(
        "/console/login",
        data={"username": username, "password": LOGINS[username], "csrf_token": token},
    )
    assert answer.status_code == 303, answer.text
    return csrf_in((await client.get("/console/deliveries")).text)
