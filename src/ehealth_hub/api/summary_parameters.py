"""The Parameters body of ``POST /fhir/Patient/$summary`` (FHIR R4 operations.html#request).

The parameters are those the GET takes: the patient as ``identifier`` (the GET's name, the IPS
$summary input) or ``patient`` (one of the two, once), each a ``valueIdentifier`` (``system`` +
``value``) or a ``valueString`` ``system|value``; ``purpose`` (``treatment`` or ``emergency``,
valueCode or valueString) and ``justification`` (valueString), at most once each. Anything else
(another resource type, an unknown or repeated parameter, a value of another type) is refused
with an InvalidInput (400) naming ``Parameters.parameter[<name>]`` and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from ehealth_hub.core.errors import InvalidInput

PATIENT_NAMES: Final = ("identifier", "patient")
_VALUE_TYPES: Final = {
    "identifier": ("valueIdentifier", "valueString"),
    "patient": ("valueIdentifier", "valueString"),
    "purpose": ("valueCode", "valueString"),
    "justification": ("valueString",),
}
_PURPOSES: Final = ("treatment", "emergency")
_TEXT_CHARS: Final = 200
"""The GET's bound on ``identifier`` and ``justification``."""


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """What a $summary asks, from the query (GET) or a Parameters body (POST)."""

    ssin: str
    purpose: Literal["treatment", "emergency"] = "treatment"
    justification: str | None = None


def _bad(name: str, rule: str, detail: str) -> InvalidInput:
    field = f"Parameters.parameter[{name}]" if name else "Parameters"
    return InvalidInput(detail, field=field, rule=rule, system="api", operation="summary")


def _values(body: Mapping[str, Any]) -> dict[str, Any]:
    """{parameter name: its one value}, each name known, once, with a value of its types."""
    if body.get("resourceType") != "Parameters":
        raise _bad("", "summary.parameters", "the body must be a Parameters resource")
    parameters = body.get("parameter", [])
    if not isinstance(parameters, list):
        raise _bad("", "summary.parameters", "Parameters.parameter must be a list")
    found: dict[str, Any] = {}
    for parameter in parameters:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name not in _VALUE_TYPES:
            raise _bad(str(name), "summary.parameter-unknown", f"unknown parameter {name!r}")
        if name in found:
            raise _bad(name, "summary.parameter-repeated", f"{name} may appear once")
        given = [k for k in parameter if k.startswith("value")]
        if len(given) != 1 or given[0] not in _VALUE_TYPES[name]:
            allowed = " or ".join(_VALUE_TYPES[name])
            raise _bad(name, "summary.parameter-type", f"{name} needs one {allowed}")
        found[name] = parameter[given[0]]
    return found


def _token(name: str, value: Any) -> str:
    """``system|value`` from a valueIdentifier or a valueString."""
    if isinstance(value, dict):
        system, code = value.get("system"), value.get("value")
        if not isinstance(system, str) or not isinstance(code, str):
            raise _bad(name, "summary.identifier", f"{name} needs an Identifier system and value")
        value = f"{system}|{code}"
    if not isinstance(value, str) or len(value) > _TEXT_CHARS:
        raise _bad(name, "summary.identifier", f"{name} must be system|value (<= 200 chars)")
    return value


def summary_request(body: Mapping[str, Any], parse_ssin: Callable[[str], str]) -> SummaryRequest:
    """The request a Parameters body makes; ``parse_ssin`` reads a ``system|value`` token (the
    GET's parser, so that both methods accept and refuse the same identifiers)."""
    found = _values(body)
    named = [n for n in PATIENT_NAMES if n in found]
    if len(named) != 1:
        raise _bad(
            "patient",
            "summary.patient-required",
            "name the patient once, as parameter identifier or patient",
        )
    try:
        ssin = parse_ssin(_token(named[0], found[named[0]]))
    except InvalidInput as exc:  # the same class (400 malformed, 422 no one's SSIN), our field
        field = f"Parameters.parameter[{named[0]}]"
        raise type(exc)(exc.detail, field=field, rule=exc.rule, system="api") from exc
    purpose = found.get("purpose", "treatment")
    if purpose not in _PURPOSES:
        raise _bad("purpose", "summary.purpose", "purpose must be treatment or emergency")
    justification = found.get("justification")
    if justification is not None and (
        not isinstance(justification, str) or len(justification) > _TEXT_CHARS
    ):
        raise _bad("justification", "summary.justification", "justification: <= 200 chars")
    return SummaryRequest(ssin, cast(Literal["treatment", "emergency"], purpose), justification)
