"""FHIR JSON responses (``application/fhir+json``, FHIR R4 4.0.1 http conventions)."""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.responses import Response

FHIR_JSON: Final = "application/fhir+json"


class FhirResponse(Response):
    """A FHIR resource rendered as ``application/fhir+json; charset=utf-8``."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
