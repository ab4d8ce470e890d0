"""Health and metrics: ``/health/live``, ``/health/ready`` (per downstream), ``/metrics``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ehealth_hub.api.deps import Metrics, Readiness
from ehealth_hub.bootstrap import ReadinessCheck
from ehealth_hub.core.errors import HubError

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 5.0


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "pass"}


@router.get("/health/ready", summary="The database and each downstream answer")
async def ready(readiness: Readiness) -> JSONResponse:
    """200 when every check passes, 503 with the failing ones named otherwise."""
    names = list(readiness)
    results = await asyncio.gather(*(_check(readiness[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    healthy = all(c["status"] == "pass" for c in checks.values())
    body = {"status": "pass" if healthy else "fail", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _check(check: ReadinessCheck) -> dict[str, Any]:
    try:
        await asyncio.wait_for(check(), READY_TIMEOUT_S)
    except HubError as exc:
        return {"status": "fail", "error": type(exc).__name__, "detail": exc.detail}
    except TimeoutError:
        return {"status": "fail", "error": "timeout", "detail": f"no answer in {READY_TIMEOUT_S}s"}
    return {"status": "pass"}


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(registry: Metrics) -> Response:
    """The container's metrics in the Prometheus text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
