"""Console users: who signed in, with which rights, and password checks (hashlib.scrypt).

Passwords are stored as ``scrypt$n$r$p$<salt hex>$<hash hex>`` in the settings
(``console.accounts``); in the sandbox, when none is configured, the sandbox ``operator`` and
``auditor`` accounts of :mod:`ehealth_hub.fixtures.sandbox` are used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from ehealth_hub.settings.console import ConsoleRole, OperatorAccount

SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
"""scrypt cost (RFC 7914): N=2^14, r=8, p=1 costs ~16 MiB and ~50 ms a check."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Someone signed in to the console."""

    username: str
    role: ConsoleRole

    @property
    def is_auditor(self) -> bool:
        """Auditors read message bodies and the audit trail."""
        return self.role == "auditor"

    @property
    def client_id(self) -> str:
        """The audit trail's client id for this user's actions."""
        return f"console:{self.username}"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of ``password``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (constant-time comparison)."""
    _, n, r, p, salt, expected = stored.split("$")
    digest = hashlib.scrypt(
        password.encode(),
        salt=bytes.fromhex(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected) // 2,
        maxmem=128 * int(n) * int(r) * 2,
    )
    return hmac.compare_digest(digest.hex(), expected)


class Accounts:
    """The password accounts of the console."""

    def __init__(self, accounts: tuple[OperatorAccount, ...]) -> None:
        self._by_name = {a.username: a for a in accounts}
        # checking an unknown name costs the same as a known one (no user enumeration by timing)
        self._decoy = hash_password(secrets.token_hex(8))

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def sign_in(self, username: str, password: str) -> ConsoleUser | None:
        """The user when the password is right, else None."""
        account = self._by_name.get(username)
        ok = password_matches(password, account.password_hash if account else self._decoy)
        return ConsoleUser(account.username, account.role) if account and ok else None
