"""The registry of API clients and of the practitioners clients may act for (a JSON file).

SMART App Launch 2.x backend services: each client is registered with its public keys (a JWK
Set, RFC 7517) and the scopes it may ask for; clients that act for care providers (a consultation
app) are flagged, and may act only for practitioners enrolled at the hub (whose eHealth
certificates and quality the hub holds). The file::

    {"clients": [{"client_id": "consult-app", "name": "...", "kind": "consultation-app",
                  "jwks": {"keys": [{"kty": "EC", ...}]}, "scopes": ["user/Patient.r"],
                  "may_act_for_practitioners": true, "serves": []}],
     "practitioners": [{"nihii": "11530231003", "quality": "doctor", "name": "Sarah Vermeulen"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import jwt
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ehealth_hub.auth.scopes import KNOWN_SCOPES
from ehealth_hub.core.errors import AuthenticationError, ConfigurationError, IdentifierError
from ehealth_hub.core.identifiers import Nihii

ClientKind = Literal["consultation-app", "mutuality", "gp-software", "auditor", "operator", "other"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClientRegistration(_Frozen):
    """One registered API client."""

    client_id: str
    """The OAuth client id; ``iss`` and ``sub`` of its client assertions."""
    name: str
    """Human-readable name (logs, sandbox-info)."""
    kind: ClientKind = "other"
    """What kind of user this client is (consultation app, mutuality, GP software, auditor)."""
    jwks: dict[str, list[dict[str, Any]]]
    """Public keys (JWK Set) that verify the client's assertions; private members refused."""
    scopes: frozenset[str]
    """The SMART v2 scopes the client may be granted (each from ``KNOWN_SCOPES``)."""
    may_act_for_practitioners: bool = False
    """True when the client may name an acting practitioner (needed for ``user/`` scopes)."""
    serves: frozenset[str] = frozenset()
    """Whose deliveries a ``system/`` client follows: a mutuality, the federation codes it
    answers for (``100``); GP software, the NIHIIs of its GPs. Its Tasks are those addressed to
    them (``ehealth_hub.services.task_access``)."""

    @field_validator("jwks")
    @classmethod
    def _public_keys_only(cls, value: dict[str, list[dict[str, Any]]]) -> Any:
        keys = value.get("keys")
        if not keys:
            raise ValueError("jwks needs a non-empty 'keys' list")
        for key in keys:
            if "d" in key or "p" in key:
                raise ValueError("jwks must hold public keys only (found a private member)")
            jwt.PyJWK(key)
        return value

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - KNOWN_SCOPES.keys())
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {sorted(KNOWN_SCOPES)}")
        return value

    def public_keys(self) -> list[jwt.PyJWK]:
        """The client's verification keys."""
        return [jwt.PyJWK(key) for key in self.jwks["keys"]]


class EnrolledPractitioner(_Frozen):
    """A care provider enrolled at the hub (clients act for them)."""

    nihii: str
    """11-digit NIHII (validated)."""
    quality: str
    """The eHealth quality the hub's STS tokens carry for them: doctor, clinical_psychologist..."""
    name: str = ""
    """Display name."""

    @field_validator("nihii")
    @classmethod
    def _valid_nihii(cls, value: str) -> str:
        try:
            return Nihii.person(value).value
        except IdentifierError as exc:
            raise ValueError(exc.detail) from exc


class ClientRegistry(_Frozen):
    """The registered clients and the enrolled practitioners."""

    clients: tuple[ClientRegistration, ...]
    """Every registered client."""
    practitioners: tuple[EnrolledPractitioner, ...] = ()
    """Practitioners the clients flagged ``may_act_for_practitioners`` may act for."""

    def client(self, client_id: str) -> ClientRegistration:
        """The registration of ``client_id``; AuthenticationError when unknown."""
        for client in self.clients:
            if client.client_id == client_id:
                return client
        raise AuthenticationError(
            "unknown client", system="auth", operation="token", code="invalid_client"
        )

    def practitioner(self, nihii: str) -> EnrolledPractitioner | None:
        """The enrolled practitioner with this NIHII, or None."""
        return next((p for p in self.practitioners if p.nihii == nihii), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> ClientRegistry:
        """Validate ``data``; ConfigurationError naming every problem and the source."""
        try:
            registry = cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigurationError(
                f"{source}: {problems}", system="auth", operation="clients"
            ) from exc
        ids = [c.client_id for c in registry.clients]
        if len(ids) != len(set(ids)):
            raise ConfigurationError(
                f"{source}: client ids must be unique", system="auth", operation="clients"
            )
        return registry

    @classmethod
    def load(cls, path: Path) -> ClientRegistry:
        """Read the registry file (JSON)."""
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the client registry {path}: {exc}", system="auth", operation="clients"
            ) from exc
        return cls.from_mapping(data, source=str(path))
