"""TokenService and SMART v2 scopes as units: every PyJWT failure becomes AuthenticationError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehealth_hub.auth.principal import Principal
from ehealth_hub.auth.scopes import Scope, satisfied
from ehealth_hub.auth.tokens import TokenPolicy, TokenService
from ehealth_hub.core.errors import AuthenticationError, AuthorizationError, InvalidInput
from ehealth_hub.fixtures.auth_clients import derive_key, sandbox_registry

POLICY = TokenPolicy(
    issuer="http://hub", token_endpoint="http://hub/auth/token", audience="http://hub/fhir"
)
KEY = derive_key("hub access tokens")


class MemoryJtis:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        if (client_id, jti) in self.seen:
            return False
        self.seen.add((client_id, jti))
        return True


def _service() -> TokenService:
    return TokenService(sandbox_registry(), KEY, POLICY, MemoryJtis())


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "http://hub",
        "aud": "http://hub/fhir",
        "client_id": "auditor",
        "scope": "system/AuditEvent.rs",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "t1",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_valid_token_gives_the_principal() -> None:
    principal = _service().verify(jwt.encode(_claims(), KEY, algorithm="ES256"))
    assert principal == Principal(
        "auditor", frozenset({"system/AuditEvent.rs"}), None, None, "t1", kind="auditor"
    )


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(jwt.encode(_claims(exp=1), KEY, algorithm="ES256"), id="expired"),
        pytest.param(
            jwt.encode(_claims(aud="http://other/fhir"), KEY, algorithm="ES256"), id="audience"
        ),
        pytest.param(jwt.encode(_claims(iss="http://other"), KEY, algorithm="ES256"), id="issuer"),
        pytest.param(
            jwt.encode(_claims(), derive_key("forger"), algorithm="ES256"), id="signature"
        ),
        pytest.param(jwt.encode(_claims(scope=None), KEY, algorithm="ES256"), id="missing-scope"),
        pytest.param(
            jwt.encode(_claims(), "a-shared-secret-of-32-bytes-long!", algorithm="HS256"), id="hmac"
        ),
        pytest.param(jwt.encode(_claims(), None, algorithm="none"), id="alg-none"),
        pytest.param("not.a.jwt", id="malformed"),
        pytest.param("", id="empty"),
    ],
)
def test_every_invalid_token_is_an_authentication_error(token: str) -> None:
    with pytest.raises(AuthenticationError):
        _service().verify(token)


def test_a_token_verified_before_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = _service()
    expires = int(datetime.now(UTC).timestamp()) + 60
    token = jwt.encode(_claims(exp=expires), KEY, algorithm="ES256")
    service.verify(token)
    service.verify(token)  # remembered
    later = expires + POLICY.leeway.total_seconds() + 1
    monkeypatch.setattr("ehealth_hub.auth.tokens.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    with pytest.raises(AuthenticationError):
        service.verify(token)


class _FrozenDatetime:
    """``datetime`` as PyJWT sees it, frozen at ``epoch`` seconds."""

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch

    def now(self, tz: Any = None) -> datetime:
        return datetime.fromtimestamp(self.epoch, tz or UTC)

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


def test_a_tampered_token_is_refused_after_the_genuine_one_was_verified() -> None:
    service = _service()
    token = jwt.encode(_claims(), KEY, algorithm="ES256")
    service.verify(token)
    head, _, signature = token.split(".")
    forged = jwt.encode(_claims(scope="system/*.cruds"), derive_key("forger"), algorithm="ES256")
    with pytest.raises(AuthenticationError):
        service.verify(".".join([head, forged.split(".")[1], signature]))


def test_a_principal_without_practitioner_has_no_actor() -> None:
    with pytest.raises(AuthorizationError):
        Principal("auditor", frozenset(), None, None).actor()


@pytest.mark.parametrize(
    ("granted", "required", "allowed"),
    [
        ("user/Consent.cruds", "user/Consent.c", True),
        ("user/Consent.rs", "user/Consent.c", False),
        ("user/*.r", "user/Patient.r", True),
        ("system/Patient.r", "user/Patient.r", False),
        ("user/Patient.r", "user/Observation.r", False),
    ],
)
def test_scope_satisfaction_follows_smart_v2(granted: str, required: str, allowed: bool) -> None:
    assert satisfied(frozenset({granted}), required) is allowed


@given(st.sampled_from(["user", "system"]), st.sets(st.sampled_from("cruds"), min_size=1))
def test_a_scope_satisfies_every_subset_of_itself(context: str, perms: set[str]) -> None:
    full = Scope.parse(f"{context}/Consent.{''.join(p for p in 'cruds' if p in perms)}")
    for p in perms:
        assert full.satisfies(Scope.parse(f"{context}/Consent.{p}"))


@pytest.mark.parametrize(
    "text", ["patient/*.read", "user/Consent.", "user/Consent.x", "Consent.r", "user/Consent.dc"]
)
def test_malformed_scopes_are_refused_naming_the_rule(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Scope.parse(text)
    assert caught.value.rule == "smart-v2-scope"
