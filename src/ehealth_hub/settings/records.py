"""Settings of ``Patient/$summary`` reads (``services/records.py``)."""

from __future__ import annotations

from pydantic import Field

from ehealth_hub.settings.base import Section


class RecordsSettings(Section):
    """How the records service reads the sources and what it keeps in memory."""

    source_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """How long one source (a hub, a GP system) may take to list and read before the summary
    is answered without it (the Bundle then says what is missing)."""
    content_cache_seconds: float = Field(default=900.0, ge=0, le=86400)
    """How long a transaction a care provider has read is served again to that same care
    provider from memory, while the source lists it under the same version (IntraHub
    ``recorddatetime``, FHIR ``meta.versionId``); 0 = always read from the source. Every read
    still passes the consent gate (and is audited) and still lists every source, so a
    transaction withdrawn, re-versioned or no longer visible is never served; the source's own
    audit trail shows each care provider's first read of each version and every listing."""
    content_cache_megabytes: int = Field(default=64, ge=1, le=4096)
    """Memory bound of that cache; the least recently used transactions go first."""
