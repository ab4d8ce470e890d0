"""OperationOutcome rendering (FHIR R4 4.0.1) from the HubError tree.

The HTTP status is chosen by ``api/``; this module only says what went wrong, where (FHIRPath
``expression`` = the field) and by which rule (``details.coding`` in the hub's rule code system).
"""

from __future__ import annotations

from typing import Any, Final

from ehealth_hub.core.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    Conflict,
    ConsentDenied,
    ConsentUnavailable,
    DownstreamError,
    HubError,
    InvalidInput,
    NotFound,
    SecurityError,
    StorageError,
)
from ehealth_hub.fhir.profiles import HUB_SYSTEM_BASE

RULE_SYSTEM: Final = f"{HUB_SYSTEM_BASE}/CodeSystem/rule"

# (error class, FHIR issue-type code); first match wins, so subclasses come before their bases.
_ISSUE_TYPES: Final[tuple[tuple[type[HubError], str], ...]] = (
    (InvalidInput, "invalid"),
    (SecurityError, "security"),
    (AuthenticationError, "login"),
    (AuthorizationError, "forbidden"),
    (ConsentUnavailable, "transient"),
    (ConsentDenied, "forbidden"),
    (NotFound, "not-found"),
    (Conflict, "conflict"),
    (DownstreamError, "transient"),
    (StorageError, "transient"),
    (ConfigurationError, "exception"),
)


def issue_type(error: HubError) -> str:
    """The FHIR ``IssueType`` code for this error."""
    for cls, code in _ISSUE_TYPES:
        if isinstance(error, cls):
            return "business-rule" if code == "transient" and not error.retryable else code
    return "exception"


def issue(
    code: str,
    diagnostics: str,
    *,
    severity: str = "error",
    expression: str | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    """One OperationOutcome.issue as JSON."""
    entry: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        entry["expression"] = [expression]
    if rule:
        entry["details"] = {"coding": [{"system": RULE_SYSTEM, "code": rule}], "text": rule}
    return entry


def outcome(*issues: dict[str, Any]) -> dict[str, Any]:
    """An OperationOutcome resource (JSON) holding ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def outcome_for(error: HubError) -> dict[str, Any]:
    """The OperationOutcome that explains ``error`` to an API client."""
    field = error.field if isinstance(error, InvalidInput) else None
    rule = error.rule if isinstance(error, InvalidInput) else error.code
    issues = [issue(issue_type(error), error.detail, expression=field or None, rule=rule or None)]
    if isinstance(error, ConsentDenied):
        code = issue_type(error)  # forbidden, or transient for a source outage
        issues += [issue(code, reason, severity="information") for reason in error.reasons]
    return outcome(*issues)
