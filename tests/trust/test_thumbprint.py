"""A credential's thumbprint is the SHA-256 of its DER certificate (the registry/cache key)."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization


def test_thumbprint_is_the_sha256_of_the_der_certificate(sandbox_pki: Any) -> None:
    credential = sandbox_pki.practitioner("sarah")
    der = credential.certificate.public_bytes(serialization.Encoding.DER)
    assert credential.thumbprint == hashlib.sha256(der).hexdigest()
