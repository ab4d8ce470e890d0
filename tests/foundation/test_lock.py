"""The lock (``requirements.lock``) agrees with ``pyproject.toml`` and with what is installed.

``make lock`` writes the lock from ``pyproject.toml`` (uv pip compile, universal, hashed); every
make target installs exactly the lock into ``.venv``. These tests catch a dependency edited in
``pyproject.toml`` without re-locking, and a venv that drifted from the lock.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)
DIRECT = "ehealth-hub (pyproject.toml)"


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    direct: bool

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def locked() -> list[Pin]:
    """Every pin of the lock, with its marker and whether pyproject.toml asks for it by name."""
    pins: list[Pin] = []
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            marker = match["marker"]
            pins.append(
                Pin(
                    canonicalize_name(match["name"]),
                    Version(match["version"]),
                    Marker(marker) if marker else None,
                    False,
                )
            )
        elif pins and line.strip() in (f"# via {DIRECT}", f"#   {DIRECT}"):
            last = pins[-1]
            pins[-1] = Pin(last.name, last.version, last.marker, True)
    return pins


def declared() -> list[Requirement]:
    """The runtime and dev requirements that pyproject.toml declares."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(text) for text in texts]


def test_every_declared_requirement_is_locked_at_a_version_it_allows() -> None:
    pins = {(p.name, str(p.marker)): p for p in locked()}
    by_name: dict[str, list[Pin]] = {}
    for pin in pins.values():
        by_name.setdefault(pin.name, []).append(pin)
    stale = []
    for requirement in declared():
        candidates = by_name.get(canonicalize_name(requirement.name), [])
        if not candidates or not all(requirement.specifier.contains(p.version) for p in candidates):
            stale.append(f"{requirement} (locked: {[str(p.version) for p in candidates]})")
    assert not stale, f"pyproject.toml and requirements.lock disagree, run `make lock`: {stale}"


def test_the_lock_asks_for_nothing_that_pyproject_no_longer_declares() -> None:
    names = {canonicalize_name(r.name) for r in declared()}
    orphans = sorted({p.name for p in locked() if p.direct} - names)
    assert not orphans, f"requirements.lock still pins {orphans} for pyproject.toml: `make lock`"


def test_the_venv_holds_exactly_the_locked_versions() -> None:
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("runs inside the project's .venv (make test), not another interpreter")
    wanted = {p.name: p.version for p in locked() if p.applies()}
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    installed.pop("ehealth-hub", None)
    drift = {
        name: (str(wanted.get(name)), str(installed.get(name)))
        for name in wanted.keys() | installed.keys()
        if wanted.get(name) != installed.get(name)
    }
    assert not drift, f"(locked, installed) differ: {drift}; `make` re-syncs the venv"
