"""The CapabilityStatement (FHIR R4 4.0.1), built from what the routers actually register.

Each router declares its resources, interactions, search parameters and operations here when it
is included, so ``GET /fhir/metadata`` lists only what is implemented; search parameters come
from the same :class:`~ehealth_hub.api.search.SearchSpec` that parses the searches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ehealth_hub import __version__
from ehealth_hub.fhir.profiles import FHIR_VERSION

_SMART_SERVICE: dict[str, str] = {
    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
    "code": "SMART-on-FHIR",
}
_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@dataclass
class ResourceCapability:
    """What the API offers for one resource type."""

    type: str
    profile: str | None = None
    interactions: list[str] = field(default_factory=list)
    search_params: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, type, documentation), from the type's :class:`~ehealth_hub.api.search.SearchSpec`."""
    search_includes: list[str] = field(default_factory=list)
    operations: list[tuple[str, str]] = field(default_factory=list)
    conditional_create: bool = False
    """``If-None-Exist`` on create (declared for a resource with a create interaction)."""
    versioning: str | None = None
    """``versioned`` or ``versioned-update``; None for a resource without a versioned read."""

    def versioned_read(self, *, versioned_update: bool = False) -> None:
        """Declare a read whose answer carries ``meta.versionId`` and ``lastUpdated`` as
        ``ETag``/``Last-Modified`` (:func:`ehealth_hub.api.responses.version_headers`), so both
        ``If-None-Match`` and ``If-Modified-Since`` answer 304 (:mod:`ehealth_hub.api.conditional`);
        ``versioned_update``: update and delete honour ``If-Match`` (a stale version is 412)."""
        if "read" not in self.interactions:
            self.interactions.append("read")
        self.versioning = "versioned-update" if versioned_update else "versioned"


@dataclass
class Capabilities:
    """The registry routers fill in; rendered as one CapabilityStatement."""

    resources: dict[str, ResourceCapability] = field(default_factory=dict)
    system_operations: list[tuple[str, str]] = field(default_factory=list)

    def resource(self, type_: str, *, profile: str | None = None) -> ResourceCapability:
        """The entry for ``type_``, created on first use."""
        entry = self.resources.setdefault(type_, ResourceCapability(type_))
        entry.profile = profile or entry.profile
        return entry

    def statement(self, base_url: str, *, now: datetime | None = None) -> dict[str, Any]:
        """The CapabilityStatement resource as JSON."""
        when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": when,
            "kind": "instance",
            "publisher": "ehealth-hub",
            "software": {"name": "ehealth-hub", "version": __version__},
            "implementation": {"description": "ehealth-hub FHIR API", "url": f"{base_url}/fhir"},
            "fhirVersion": FHIR_VERSION,
            "format": ["application/fhir+json", "json"],
            "rest": [self._rest(base_url)],
        }

    def _rest(self, base_url: str) -> dict[str, Any]:
        rest: dict[str, Any] = {
            "mode": "server",
            "security": {
                "cors": False,
                "service": [{"coding": [_SMART_SERVICE], "text": "SMART backend services (JWT)"}],
                "extension": [
                    {
                        "url": _OAUTH_URIS,
                        "extension": [{"url": "token", "valueUri": f"{base_url}/auth/token"}],
                    }
                ],
            },
            "resource": [self._render(r) for _, r in sorted(self.resources.items())],
        }
        if self.system_operations:
            rest["operation"] = [{"name": n, "definition": d} for n, d in self.system_operations]
        return rest

    @staticmethod
    def _render(r: ResourceCapability) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": r.type}
        if r.profile:
            entry["profile"] = r.profile
        if r.interactions:
            entry["interaction"] = [{"code": code} for code in r.interactions]
        if r.search_params:
            entry["searchParam"] = [
                {"name": n, "type": t, "documentation": d} for n, t, d in r.search_params
            ]
        if r.search_includes:
            entry["searchInclude"] = list(r.search_includes)
        if r.operations:
            entry["operation"] = [{"name": n, "definition": d} for n, d in r.operations]
        entry.update(_version_flags(r))
        return entry


def _version_flags(r: ResourceCapability) -> dict[str, Any]:
    """Versioning and conditional interactions as the hub does them: versioned reads answer
    conditional reads both ways (only a versioned read is declared so), no history, no
    conditional update or delete (only ``If-Match``), no update-as-create (PUT of an unknown
    id is 404)."""
    flags: dict[str, Any] = {}
    if r.versioning is not None:
        flags |= {"versioning": r.versioning, "readHistory": False}
        flags["conditionalRead"] = "full-support"
    if "create" in r.interactions:
        flags["conditionalCreate"] = r.conditional_create
    if "update" in r.interactions:
        flags |= {"updateCreate": False, "conditionalUpdate": False}
    if "delete" in r.interactions:
        flags["conditionalDelete"] = "not-supported"
    return flags
