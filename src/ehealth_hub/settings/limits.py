"""Settings of what the API accepts at the door: body sizes per endpoint, field sizes."""

from __future__ import annotations

from pydantic import Field

from ehealth_hub.settings.base import Section

_KIB = 1024
_MIB = 1024 * _KIB


class InputLimits(Section):
    """Request sizes the API accepts; anything larger is answered 400 (rule ``size``) before it is
    parsed, so nothing of it is stored, audited or sent on."""

    claim_body_bytes: int = Field(default=64 * _KIB, ge=4 * _KIB, le=10 * _MIB)
    """``POST /fhir/Claim/$submit``: one Claim of one item (a real one is 2 to 4 KiB)."""
    eligibility_body_bytes: int = Field(default=32 * _KIB, ge=4 * _KIB, le=10 * _MIB)
    """``POST /fhir/CoverageEligibilityRequest/$submit``: one request (under 2 KiB)."""
    note_body_bytes: int = Field(default=4 * _MIB, ge=64 * _KIB, le=32 * _MIB)
    """``POST /fhir/DocumentReference``: the note with its contained resources and its text as a
    base64 attachment (an eHealthBox message holds at most a few MiB)."""
    consent_body_bytes: int = Field(default=64 * _KIB, ge=4 * _KIB, le=10 * _MIB)
    """``POST/PUT /fhir/Consent``: one be-Consent (2 to 4 KiB)."""
    token_form_bytes: int = Field(default=64 * _KIB, ge=4 * _KIB, le=1 * _MIB)
    """``POST /auth/token``: the form with the client assertion (a JWT of about 1 KiB)."""
    other_body_bytes: int = Field(default=16 * _KIB, ge=1 * _KIB, le=10 * _MIB)
    """Every other request (searches, reads and operations carry no meaningful body)."""
    string_chars: int = Field(default=64 * _KIB, ge=1 * _KIB, le=32 * _MIB)
    """Longest string in a FHIR body, attachment ``data`` excepted (bounded by the body size)."""
    identifier_chars: int = Field(default=256, ge=64, le=4 * _KIB)
    """Longest ``identifier.value`` of any naming system (Belgian identifiers are checked on
    their own rules)."""
    depth: int = Field(default=32, ge=8, le=256)
    """Deepest nesting of objects and arrays in a FHIR body."""
