"""Logs never carry SSINs or names in clear."""

from __future__ import annotations

import json

import pytest
import structlog

from ehealth_hub.logs import configure_logging


def test_masks_ssins_and_names_in_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json_output=True)
    structlog.get_logger("t").info(
        "read dossier of 85031212362",
        patient="85031212362",
        name="Jan Janssens",
        nested={"inss": "90070104521", "note": "seen 62.11.23-007.03"},
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    for secret in ("85031212362", "Janssens", "90070104521", "62.11.23-007.03"):
        assert secret not in line
    event = json.loads(line)
    assert event["patient"] == "*******2362"
    assert event["name"] == "J** J*******"
