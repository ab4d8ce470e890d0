"""The production keystore registry: which PKCS#12 keystore signs for which practitioner.

eHealth issues each practitioner (or organisation) an authentication certificate as a PKCS#12
keystore protected by a passphrase. The registry is a JSON file mapping NIHII -> keystore path and
WHERE the passphrase comes from (a secret file, e.g. a mounted Kubernetes/Docker secret, or an
environment variable name). The passphrase itself is never stored, printed or logged.

``add`` opens the keystore before registering it and checks that the certificate carries the
NIHII it is registered under; ``list`` reports each certificate's expiry and flags the ones within
``warning_days``; ``credential`` opens a keystore for signing (cached per NIHII).

Public API (stable)::

    KeystoreEntry(nihii, path, passphrase_file=None, passphrase_env=None)
    KeystoreRegistry(file: Path, *, environ: Mapping[str, str], clock, warning_days=30)
    registry.add(entry) -> KeystoreStatus ; registry.remove(nihii) ; registry.entries()
    registry.status() -> list[KeystoreStatus] ; registry.credential(nihii) -> Credential
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import structlog

from ehealth_hub.core.errors import ConfigurationError, NotFound
from ehealth_hub.core.files import write_atomic
from ehealth_hub.trust.credentials import Credential

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class KeystoreEntry:
    """One registered keystore; exactly one passphrase source."""

    nihii: str
    """The practitioner's NIHII (11 digits) the keystore signs for."""
    path: str
    """Filesystem path of the PKCS#12 file."""
    passphrase_file: str | None = None
    """File whose first line is the passphrase (a mounted secret)."""
    passphrase_env: str | None = None
    """Name of the environment variable holding the passphrase."""


@dataclass(frozen=True, slots=True)
class KeystoreStatus:
    entry: KeystoreEntry
    subject: str
    not_after: datetime
    days_left: int
    expiring: bool


class KeystoreRegistry:
    """The JSON-file registry; see the module docstring."""

    def __init__(
        self,
        file: Path,
        *,
        environ: Mapping[str, str],
        clock: Callable[[], datetime],
        warning_days: int = 30,
    ) -> None:
        self.file, self._environ, self._clock, self._warning = file, environ, clock, warning_days
        self._open: dict[str, Credential] = {}

    def entries(self) -> dict[str, KeystoreEntry]:
        if not self.file.exists():
            return {}
        try:
            raw = json.loads(self.file.read_text())
            return {k: KeystoreEntry(**v) for k, v in raw["keystores"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"keystore registry {self.file} is unreadable", system="keystores"
            ) from exc

    def _save(self, entries: Mapping[str, KeystoreEntry]) -> None:
        body = {"keystores": {k: asdict(v) for k, v in sorted(entries.items())}}
        # serving processes read it while the CLI adds a keystore: never half-written
        write_atomic(self.file, f"{json.dumps(body, indent=2)}\n".encode())

    def _passphrase(self, entry: KeystoreEntry) -> str:
        if (entry.passphrase_file is None) == (entry.passphrase_env is None):
            raise ConfigurationError(
                f"keystore {entry.nihii}: give exactly one of passphrase file or variable",
                system="keystores",
            )
        if entry.passphrase_env is not None:
            if entry.passphrase_env not in self._environ:
                raise ConfigurationError(
                    f"variable {entry.passphrase_env} is not set", system="keystores"
                )
            return self._environ[entry.passphrase_env]
        try:
            return Path(entry.passphrase_file or "").read_text().splitlines()[0]
        except (OSError, IndexError) as exc:
            raise ConfigurationError(
                f"passphrase file {entry.passphrase_file} unreadable", system="keystores"
            ) from exc

    def _open_entry(self, entry: KeystoreEntry) -> Credential:
        try:
            data = Path(entry.path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"keystore {entry.path} unreadable", system="keystores"
            ) from exc
        credential = Credential.from_pkcs12(data, self._passphrase(entry))
        if credential.subject_value("NIHII") not in (None, entry.nihii):
            raise ConfigurationError(
                f"keystore {entry.path} belongs to another NIHII than {entry.nihii}",
                system="keystores",
            )
        return credential

    def _status(self, entry: KeystoreEntry, credential: Credential) -> KeystoreStatus:
        not_after = credential.certificate.not_valid_after_utc
        days = (not_after - self._clock()).days
        status = KeystoreStatus(
            entry,
            credential.certificate.subject.rfc4514_string(),
            not_after,
            days,
            days < self._warning,
        )
        if status.expiring:
            _log.warning("keystore.expiring", nihii=entry.nihii, days_left=days)
        return status

    def add(self, entry: KeystoreEntry) -> KeystoreStatus:
        """Register ``entry`` after opening it (wrong passphrase or NIHII: ConfigurationError)."""
        credential = self._open_entry(entry)
        entries = self.entries()
        entries[entry.nihii] = entry
        self._save(entries)
        self._open.pop(entry.nihii, None)
        return self._status(entry, credential)

    def remove(self, nihii: str) -> None:
        entries = self.entries()
        if entries.pop(nihii, None) is None:
            raise NotFound(f"no keystore registered for NIHII {nihii}", system="keystores")
        self._save(entries)
        self._open.pop(nihii, None)

    def status(self) -> list[KeystoreStatus]:
        """Every registered keystore with its expiry (opening each one)."""
        return [self._status(e, self._open_entry(e)) for e in self.entries().values()]

    def credential(self, nihii: str) -> Credential:
        """The signing credential registered for ``nihii`` (NotFound when none)."""
        if nihii not in self._open:
            entry = self.entries().get(nihii)
            if entry is None:
                raise NotFound(f"no keystore registered for NIHII {nihii}", system="keystores")
            self._open[nihii] = self._open_entry(entry)
        return self._open[nihii]
