"""A fake of the token verifier (``TokenService.verify``) for the delivery routes' tests: fixed
bearer strings stand for callers with given scopes, anything else is refused like a bad token."""

from __future__ import annotations

from ehealth_hub.auth.principal import Principal
from ehealth_hub.core.errors import AuthenticationError

PRACTITIONER = "11530231003"

PRINCIPALS = {
    "gp-software": Principal(
        "gp-soft", frozenset({"system/Task.r"}), None, None, kind="gp-software"
    ),
    "consult-app": Principal("consult-app", frozenset({"user/Task.r"}), PRACTITIONER, "doctor"),
    "other-app": Principal("other-app", frozenset({"user/Task.r"}), "10000000000", "doctor"),
    "operator": Principal(
        "ops", frozenset({"system/Task.u", "system/Task.r"}), None, None, kind="operator"
    ),
    "operator-2": Principal("ops-2", frozenset({"system/Task.u"}), None, None, kind="operator"),
}


class FakeTokens:
    """Verifies the bearer strings of :data:`PRINCIPALS`."""

    def verify(self, token: str, *, base: str | None = None) -> Principal:
        """The principal of ``token`` (at any base URL); AuthenticationError for an unknown
        one."""
        try:
            return PRINCIPALS[token]
        except KeyError:
            raise AuthenticationError("unknown token", system="auth") from None
