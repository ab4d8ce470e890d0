"""The authenticated caller of an API request, as proven by a hub access token."""

from __future__ import annotations

from dataclasses import dataclass

from ehealth_hub.auth.scopes import satisfied
from ehealth_hub.core.errors import AuthorizationError
from ehealth_hub.core.ports import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the client, its granted scopes and, when acting for one, the practitioner."""

    client_id: str
    scopes: frozenset[str]
    practitioner_nihii: str | None
    """NIHII of the acting practitioner (present with ``user/`` scopes)."""
    quality: str | None
    """eHealth quality of the acting practitioner (doctor, clinical_psychologist, ...)."""
    token_id: str = ""
    """``jti`` of the access token (for the audit trail)."""
    kind: str = "other"
    """The registered kind of the client (consultation-app, mutuality, gp-software, ...)."""
    serves: frozenset[str] = frozenset()
    """Whom a ``system/`` client answers for (federation codes, GP NIHIIs): its compartment."""

    def allows(self, required: str) -> bool:
        """True when a granted scope satisfies ``required``."""
        return satisfied(self.scopes, required)

    def actor(self) -> Actor:
        """The acting practitioner as the connectors see them; AuthorizationError when none."""
        if not self.practitioner_nihii or not self.quality:
            raise AuthorizationError(
                "this request needs a token issued for an acting practitioner",
                system="auth",
                operation="actor",
                code="practitioner-required",
            )
        return Actor(nihii=self.practitioner_nihii, quality=self.quality)
