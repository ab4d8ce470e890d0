"""The Permit cannot be forged and covers exactly one patient, action and period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ehealth_hub.core.errors import ConsentDenied
from ehealth_hub.core.permit import Permit, mint, require

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _permit(**overrides: object) -> Permit:
    fields: dict[str, object] = {
        "patient_ssin": "85031212362",
        "actor_nihii": "11530231003",
        "action": "read-dossier",
        "decision_id": "d-1",
        "valid_until": NOW + timedelta(minutes=5),
    }
    fields.update(overrides)
    return mint(**fields)  # type: ignore[arg-type]  # test builds the keyword set dynamically


def test_refuses_to_build_a_permit_outside_the_gate() -> None:
    with pytest.raises(TypeError, match="consent gate"):
        Permit("85031212362", "11530231003", "read-dossier", "d", NOW)


def test_accepts_a_minted_permit_for_its_patient_and_action() -> None:
    permit = _permit()
    assert require(permit, action="read-dossier", patient_ssin="85031212362", now=NOW) is permit


@pytest.mark.parametrize(
    ("permit_kwargs", "call", "message"),
    [
        ({}, {"action": "write-note"}, "not write-note"),
        ({}, {"patient_ssin": "90070104521"}, "another patient"),
        ({"valid_until": NOW}, {}, "expired"),
    ],
)
def test_denies_a_permit_that_does_not_cover_the_call(
    permit_kwargs: dict[str, object], call: dict[str, str], message: str
) -> None:
    args: dict[str, object] = {"action": "read-dossier", "patient_ssin": "85031212362", **call}
    with pytest.raises(ConsentDenied, match=message):
        require(_permit(**permit_kwargs), now=NOW, **args)  # type: ignore[arg-type]  # dynamic


def test_denies_when_no_permit_is_given() -> None:
    with pytest.raises(ConsentDenied, match="no permit"):
        require(None, action="read-dossier", patient_ssin="85031212362", now=NOW)
