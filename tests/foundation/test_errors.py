"""The HubError tree: structured fields, OperationOutcome rendering, a status for every class."""

from __future__ import annotations

import inspect

import pytest

from ehealth_hub.api.errors import STATUS, status_for
from ehealth_hub.core import errors
from ehealth_hub.core.errors import (
    BusinessRejection,
    ConsentDenied,
    DownstreamUnavailable,
    HubError,
    IdentifierError,
)
from ehealth_hub.fhir.outcome import outcome_for

ALL_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, HubError) and cls.__module__ == errors.__name__
]


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_class_is_drawn_in_the_tree(cls: type[HubError]) -> None:
    assert cls.__name__ in (errors.__doc__ or "")


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_class_says_when_it_is_raised(cls: type[HubError]) -> None:
    assert (cls.__doc__ or "").startswith("Raised when:")


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_class_has_an_http_status_of_its_own_family(cls: type[HubError]) -> None:
    matching = [c for c, _ in STATUS if issubclass(cls, c)]
    assert matching, f"{cls.__name__} has no status"
    assert status_for(cls("x")) == dict(STATUS)[matching[0]]


def test_downstream_errors_say_whether_retrying_may_help() -> None:
    assert DownstreamUnavailable("down").retryable
    assert not BusinessRejection("no").retryable
    assert not DownstreamUnavailable("down", retryable=False).retryable


def test_outcome_names_the_field_and_the_rule() -> None:
    body = outcome_for(IdentifierError("bad check", field="Patient.identifier", rule="ssin-mod97"))
    (issue,) = body["issue"]
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["Patient.identifier"]
    assert issue["details"]["coding"][0]["code"] == "ssin-mod97"


def test_consent_denial_lists_every_reason() -> None:
    body = outcome_for(ConsentDenied("denied", reasons=["no consent", "no link"]))
    assert [i["diagnostics"] for i in body["issue"][1:]] == ["no consent", "no link"]


def test_structured_view_carries_system_and_operation() -> None:
    error = DownstreamUnavailable("timeout", system="ehbox", operation="sendMessage")
    assert error.as_dict()["system"] == "ehbox"
    assert str(error) == "[ehbox.sendMessage] timeout"
