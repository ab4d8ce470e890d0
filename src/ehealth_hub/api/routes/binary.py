"""``GET /fhir/Binary/{id}``: the KMEHR message the hub sent to the GP for a note, for its sender.

The Binary's id is the note's (``DocumentReference/{id}`` names it in its ``content``, the Binary
names the note as its ``securityContext``). Needs ``user/Binary.r``, and only the client that sent
the note, acting for the practitioner who wrote it, reads it; anyone else gets 404 like a missing
one (:mod:`ehealth_hub.services.note_reads`). Every read is audited (``note-read``).

FHIR R4 binary.html: asked for FHIR (``application/fhir+json``, ``_format``, no ``Accept`` or a
wildcard), the answer is a Binary resource with the message base64 in ``data``; asked for the
Binary's own content type (``Accept: text/xml`` or ``application/xml``), the answer is the
message itself, as sent, with ``X-Security-Context`` naming the note.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from starlette.responses import Response

from ehealth_hub.api.auth import require_scope
from ehealth_hub.api.conventions import JSON_FORMATS, NATIVE_BINARY_TYPES, media_ranges
from ehealth_hub.api.deps import NoteReader
from ehealth_hub.api.door import FHIR_ID
from ehealth_hub.api.responses import FhirResponse, version_headers
from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import SENT_KMEHR_READ

router = APIRouter(tags=["notes"])
BinaryId = Annotated[str, Path(pattern=FHIR_ID.pattern, description="FHIR id (the note's)")]


def wants_native(request: Request) -> bool:
    """True when the request asks for the Binary's own content rather than FHIR JSON."""
    if request.query_params.get("_format") is not None:
        return False
    ranges = media_ranges(request.headers.get("accept", ""))
    return bool(ranges & NATIVE_BINARY_TYPES) and not ranges & JSON_FORMATS


@router.get(
    "/fhir/Binary/{binary_id}",
    response_class=FhirResponse,
    summary="The KMEHR message sent for a note (its sender only)",
    responses={200: {"content": {"text/xml": {}, "application/xml": {}}}},
)
async def read_binary(
    binary_id: BinaryId,
    request: Request,
    notes: NoteReader,
    principal: Annotated[Principal, Depends(require_scope(SENT_KMEHR_READ))],
) -> Response:
    """A FHIR Binary, or the raw message when the Accept header asks for XML."""
    sent = await notes.sent_kmehr(binary_id, principal)
    resource = sent.resource()
    if wants_native(request):
        headers = {
            "X-Security-Context": f"DocumentReference/{sent.note_id}",
            **version_headers(resource),
        }
        return Response(sent.content, media_type=sent.content_type, headers=headers)
    return FhirResponse(resource, headers=version_headers(resource))


def install(app: FastAPI) -> None:
    """Include the router and declare it in the CapabilityStatement."""
    app.include_router(router)
    app.state.capabilities.resource("Binary").versioned_read()
