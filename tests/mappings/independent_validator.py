"""Runs the independent FHIR validators of ``tools/fhir-validator`` (FHIR.js and @medplum/core,
installed from npm by ``make fhir-validator``) over FHIR JSON resources, with the HL7-BE packages
of ``../shared/be-fhir-examples/packages`` loaded in place.

One ``node`` process validates a whole batch (loading the R4 core and BE definitions takes a few
seconds). :func:`unavailable` says why the validator cannot run here, for a clean skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fhir-validator"

Json = dict[str, Any]


@dataclass(frozen=True)
class Issue:
    """One finding of one validator, on one resource, against one claimed profile."""

    validator: str
    severity: str
    location: str
    message: str
    profile: str

    def __str__(self) -> str:
        where = f"[{self.validator}] {self.location}"
        return f"{self.severity} {where}: {self.message} ({self.profile})"


@dataclass
class Outcome:
    """The findings per resource (same order as given) and the codes no validator could check."""

    issues: list[list[Issue]]
    unchecked: list[str] = field(default_factory=list)

    def of(self, severity: str) -> list[tuple[int, Issue]]:
        """Every finding of ``severity`` (error, warning, info) with its resource's index."""
        found = enumerate(self.issues)
        return [(i, x) for i, issues in found for x in issues if x.severity == severity]


def unavailable(packages: Path) -> str | None:
    """Why the validator cannot run (for ``pytest.skip``), or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TOOL / "node_modules" / "@medplum" / "core").is_dir():
        return "independent FHIR validator not installed: run `make fhir-validator`"
    if not packages.is_dir():
        return f"{packages} not present"
    return None


def validate(resources: list[Json], packages: Path) -> Outcome:
    """Validate every resource against the profiles of its ``meta.profile`` (base R4 if none)."""
    request = json.dumps({"packages": str(packages), "resources": resources})
    done = subprocess.run(  # noqa: S603 - fixed program and script, the input is our own JSON
        ["node", str(TOOL / "validate.cjs")],  # noqa: S607 - node from PATH, checked by unavailable()
        input=request.encode(),
        capture_output=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"validator failed: {done.stderr.decode()[-2000:]}")
    answer = json.loads(done.stdout)
    return Outcome(
        [[Issue(**issue) for issue in r["issues"]] for r in answer["results"]],
        answer["unchecked"],
    )
