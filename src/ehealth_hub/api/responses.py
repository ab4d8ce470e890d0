"""FHIR JSON responses (``application/fhir+json; charset=utf-8``, FHIR R4 4.0.1 http.html) and
the headers of a versioned resource: ``ETag: W/"<versionId>"`` and ``Last-Modified`` as an
HTTP-date (RFC 9110 5.6.7, IMF-fixdate), both from the resource's ``meta``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Final

import orjson
from starlette.responses import Response

FHIR_JSON: Final = "application/fhir+json"
FHIR_JSON_UTF8: Final = f"{FHIR_JSON}; charset=utf-8"


class FhirResponse(Response):
    """A FHIR resource rendered as ``application/fhir+json; charset=utf-8``."""

    media_type = FHIR_JSON_UTF8

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def http_date(when: datetime | str) -> str:
    """``when`` (an aware datetime or a FHIR instant) as an IMF-fixdate in GMT."""
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone; an HTTP-date needs an instant")
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def version_headers(resource: Mapping[str, Any]) -> dict[str, str]:
    """``ETag`` and ``Last-Modified`` of a versioned resource (those its ``meta`` carries)."""
    meta = resource.get("meta") or {}
    headers: dict[str, str] = {}
    if meta.get("versionId"):
        headers["ETag"] = f'W/"{meta["versionId"]}"'
    if meta.get("lastUpdated"):
        headers["Last-Modified"] = http_date(str(meta["lastUpdated"]))
    return headers
