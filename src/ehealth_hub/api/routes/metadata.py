"""``GET /fhir/metadata``: the CapabilityStatement of what is implemented."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ehealth_hub.api.base_url import base_url
from ehealth_hub.api.capability import Capabilities
from ehealth_hub.api.responses import FhirResponse

router = APIRouter(tags=["fhir"])


@router.get("/fhir/metadata", response_class=FhirResponse, summary="CapabilityStatement")
async def metadata(request: Request) -> FhirResponse:
    """The server's CapabilityStatement (FHIR 4.0.1); no authentication needed."""
    capabilities: Capabilities = request.app.state.capabilities
    return FhirResponse(capabilities.statement(base_url(request)))
