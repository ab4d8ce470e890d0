"""The operations console with 10,000 deliveries in the outbox: server time of its pages.

Fills a fresh SQLite database (the sandbox's backend) with ``EHEALTH_HUB_BENCH_DELIVERIES``
deliveries (default 10,000: 80 % completed, 10 % dead, 5 % failed, 5 % pending, over 3
destinations and 300 patients), signs in as the sandbox operator and times, from
the hub's own ``Server-Timing`` header (``hub`` = server time), each console page a user opens:
the newest deliveries (first page of 100, total, status counts), a search by patient, the dead
letters, a replay dry run over them, one delivery's timeline. Goal: every page's p95 under 300 ms.

Run: ``python -m benchmarks console``.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import insert

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import build_container
from ehealth_hub.core.identifiers import mod97_check
from ehealth_hub.delivery.outbox import message_id_for, ordering_key_for
from ehealth_hub.fhir.profiles import SSIN_SYSTEM
from ehealth_hub.fixtures import sandbox
from ehealth_hub.settings import load_settings
from ehealth_hub.store.tables import outbox

COUNT = int(os.environ.get("EHEALTH_HUB_BENCH_DELIVERIES", "10000"))
ROUNDS = 40
GOAL_MS = 300.0
DESTINATIONS = ("ehbox", "mycarenet", "lab")
STATUSES = ["completed"] * 16 + ["dead"] * 2 + ["failed", "pending"]


def ssin(n: int) -> str:
    base = 850101000 + n
    return f"{base:09d}{mod97_check(base):02d}"


def rows(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        patient, destination = ssin(n % 300), DESTINATIONS[n % 3]
        status = STATUSES[n % len(STATUSES)]
        at = now - timedelta(seconds=count - n)
        item_id = uuid.uuid4().hex
        error = {"detail": "downstream unavailable"} if status in ("dead", "failed") else None
        task = {
            "focus": f"DocumentReference/{n}",
            "for_": {"identifier": {"system": SSIN_SYSTEM, "value": patient}},
            "requester": None,
            "owner": None,
            "description": None,
            "extra": {},
        }  # one row's literal
        out.append(
            {
                "id": item_id,
                "message_id": message_id_for(destination, "note", item_id),
                "kind": "note",
                "destination": destination,
                "ordering_key": ordering_key_for(destination, patient),
                "status": status,
                "attempts": 3 if error else 1,
                "version": 3,
                "next_attempt_at": at,
                "created_at": at,
                "queued_at": at,
                "updated_at": at,
                "focus": task["focus"],
                "requester": None,
                "task": orjson.dumps(task).decode(),
                "payload": orjson.dumps({"note_id": str(n), "kmehr": "x" * 2000}).decode(),
                "result": orjson.dumps({"ok": True}).decode() if status == "completed" else None,
                "last_error": orjson.dumps(error).decode() if error else None,
            }
        )
    return out


def server_ms(answer: httpx.Response) -> float:
    found = re.search(r"hub;dur=([0-9.]+)", answer.headers["server-timing"])
    assert found, answer.headers
    down = re.search(r"downstream;dur=([0-9.]+)", answer.headers["server-timing"])
    return float(found.group(1)) + (float(down.group(1)) if down else 0.0)


async def sign_in(client: httpx.AsyncClient) -> str:
    page = (await client.get("/console/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    password = sandbox.CONSOLE_LOGINS["operator"]
    data = {"username": "operator", "password": password, "csrf_token": token.group(1)}
    assert (await client.post("/console/login", data=data)).status_code == 303
    page = (await client.get("/console/deliveries")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return token.group(1)


async def run(tmp: Path) -> int:
    url = f"sqlite:///{tmp / 'hub.db'}"
    settings = load_settings(
        database_url=url,
        data_dir=tmp / "var",
        log={"level": "warning"},
        delivery={"in_process_worker": False},
    )
    container = await build_container(settings, migrate=True)
    data = rows(COUNT)
    async with container.engine.begin() as conn:
        for start in range(0, len(data), 1000):
            await conn.execute(insert(outbox), data[start : start + 1000])
    app = create_app(settings, container=container)
    failures = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            token = await sign_in(client)
            one = data[len(data) // 2]["id"]
            pages = {
                "newest 100 of all": ("GET", "/console/deliveries", None),
                "search by patient": ("POST", "/console/deliveries", {"patient": ssin(7)}),
                "dead letters": ("POST", "/console/deliveries", {"status": "dead"}),
                "replay dry run (dead)": (
                    "POST",
                    "/console/deliveries/replay",
                    {"status": "dead", "mode": "dry-run"},
                ),
                "one delivery": ("GET", f"/console/deliveries/{one}", None),
            }
            print(f"{COUNT} deliveries on {url.split(':')[0]}; {ROUNDS} rounds per page")
            for name, (method, path, form) in pages.items():
                times = []
                for _ in range(ROUNDS):
                    body = {**form, "csrf_token": token} if form is not None else None
                    answer = await client.request(method, path, data=body)
                    assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
                    times.append(server_ms(answer))
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                verdict = "ok" if p95 < GOAL_MS else "SLOW"
                failures += p95 >= GOAL_MS
                print(
                    f"  {name:24s} median {statistics.median(times):7.1f} ms  "
                    f"p95 {p95:7.1f} ms  max {times[-1]:7.1f} ms  {verdict}"
                )
    await container.aclose()
    return 1 if failures else 0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
