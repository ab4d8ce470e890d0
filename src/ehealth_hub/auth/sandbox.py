"""The sandbox's API clients and the hub's sandbox token-signing key, derived from fixed seeds.

SANDBOX ONLY: keys derived from a public seed are public. Settings refuse them outside the sandbox
(``AuthSettings.sandbox_defaults``). Files are (re)written under ``data_dir/sandbox/auth``:
``clients.json`` (the registry: public JWKs), ``<client>.pem`` (each client's private key, so that
``ehealth-hub sandbox-token``, the demo and tests can sign assertions) and ``hub-token-key.pem``.
The same seed gives the same keys on every machine (EC P-256 scalars from SHA-256).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ehealth_hub.auth.clients import ClientKind, ClientRegistry
from ehealth_hub.core.files import write_atomic
from ehealth_hub.fixtures.sandbox import PRACTITIONERS

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_SEED: Final = "ehealth-hub sandbox auth v1"


@dataclass(frozen=True, slots=True)
class SandboxClient:
    """A client of the sandbox."""

    client_id: str
    name: str
    kind: ClientKind
    scopes: tuple[str, ...]
    may_act_for_practitioners: bool
    serves: tuple[str, ...] = ()
    """Federation codes (a mutuality) or GP NIHIIs (GP software) whose Tasks it follows."""


SANDBOX_CLIENTS: Final = (
    SandboxClient(
        "consult-app",
        "Video-consultation app (acts for GPs and psychologists)",
        "consultation-app",
        (
            "user/Consent.cruds",
            "user/Patient.r",
            "user/DocumentReference.c",
            "user/Claim.c",
            "user/CoverageEligibilityRequest.c",
            "user/Task.r",
        ),
        True,
    ),
    SandboxClient(
        "mutuality-cm",
        "Christian Mutuality (MC/CM, 100-series)",
        "mutuality",
        ("system/Claim.rs", "system/Task.r"),
        False,
        ("100",),
    ),
    SandboxClient(
        "gp-software",
        "GP record software of the practice of Jan Janssens and Marie Dupont",
        "gp-software",
        ("system/DocumentReference.rs", "system/Task.r"),
        False,
        tuple(p.nihii for p in PRACTITIONERS if p.key in ("jan", "marie")),
    ),
    SandboxClient(
        "auditor",
        "Data-protection auditor",
        "auditor",
        ("system/AuditEvent.rs", "system/Consent.rs"),
        False,
    ),
    SandboxClient(
        "operator",
        "Hub operations (follows and replays deliveries)",
        "operator",
        ("system/Task.ru",),
        False,
    ),
)


def derive_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A deterministic EC P-256 private key for ``label``."""
    digest = hashlib.sha256(f"{_SEED}\x00{label}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK of ``key`` with ``kid`` and ``alg`` ES256."""
    jwk: dict[str, Any] = orjson.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


def registry_data() -> dict[str, Any]:
    """The sandbox registry as the JSON document a real installation would configure."""
    clients = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "kind": c.kind,
            "jwks": {"keys": [public_jwk(derive_key(c.client_id), f"{c.client_id}-1")]},
            "scopes": list(c.scopes),
            "may_act_for_practitioners": c.may_act_for_practitioners,
            "serves": list(c.serves),
        }
        for c in SANDBOX_CLIENTS
    ]
    practitioners = [
        {"nihii": p.nihii, "quality": p.quality, "name": f"{p.given} {p.family}"}
        for p in PRACTITIONERS
    ]
    return {"clients": clients, "practitioners": practitioners}


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_if_changed(path: Path, content: bytes) -> None:
    if not path.is_file() or path.read_bytes() != content:
        write_atomic(path, content)


def auth_dir(data_dir: Path) -> Path:
    """Where the sandbox auth files live."""
    return data_dir / "sandbox" / "auth"


def ensure_sandbox_auth(data_dir: Path) -> tuple[Path, Path]:
    """Write the sandbox registry, client keys and hub key; return (registry, hub key) paths."""
    folder = auth_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    registry = folder / "clients.json"
    _write_if_changed(registry, orjson.dumps(registry_data(), option=orjson.OPT_INDENT_2))
    for client in SANDBOX_CLIENTS:
        _write_if_changed(folder / f"{client.client_id}.pem", _pem(derive_key(client.client_id)))
    hub_key = folder / "hub-token-key.pem"
    _write_if_changed(hub_key, _pem(derive_key("hub access tokens")))
    return registry, hub_key


def sandbox_registry() -> ClientRegistry:
    """The sandbox registry, validated like any configured one."""
    return ClientRegistry.from_mapping(registry_data(), source="sandbox")


def client_key(client_id: str) -> ec.EllipticCurvePrivateKey:
    """The private key of a sandbox client (KeyError when it is not a sandbox client)."""
    if client_id not in {c.client_id for c in SANDBOX_CLIENTS}:
        raise KeyError(client_id)
    return derive_key(client_id)
