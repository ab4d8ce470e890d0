"""The gate cannot be bypassed: every connector method taking a ``permit`` refuses a bad one.

The walk finds, in every module under ``ehealth_hub.connectors``, each public method with a
``permit`` parameter, builds its class without running ``__init__`` (every dependency is a
tripwire that fails the test if touched, the clock excepted), and calls it with a missing, a
forged, a wrong-action and an expired permit: each call must raise ConsentDenied before anything
reaches a downstream system.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import ehealth_hub.connectors as connectors_pkg
from ehealth_hub.core import permit as permits
from ehealth_hub.core import ports
from ehealth_hub.core.errors import ConsentDenied
from ehealth_hub.core.ports import Actor

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PATIENT = "85031212362"


class ReachedDownstream(AssertionError):
    """A gated method used a dependency before checking its permit."""


class Tripwire:
    """Stands for any dependency; touching it beyond attribute lookup fails the test."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, item: str) -> Tripwire:
        return Tripwire(f"{self._name}.{item}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ReachedDownstream(f"{self._name}() called before the permit was checked")

    def __getitem__(self, key: Any) -> Any:
        raise ReachedDownstream(f"{self._name}[...] used before the permit was checked")

    def __iter__(self) -> Any:
        raise ReachedDownstream(f"{self._name} iterated before the permit was checked")


def connector_modules() -> list[Any]:
    names = [
        m.name for m in pkgutil.walk_packages(connectors_pkg.__path__, "ehealth_hub.connectors.")
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def gated_methods() -> list[tuple[type, str]]:
    found = []
    for module in connector_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or issubclass(cls, ports.Protocol):  # type: ignore[arg-type]
                continue
            for name, fn in inspect.getmembers(cls, inspect.iscoroutinefunction):
                if not name.startswith("_") and "permit" in inspect.signature(fn).parameters:
                    found.append((cls, name))
    return found


GATED = gated_methods()


def build(cls: type) -> Any:
    instance = object.__new__(cls)
    for name in inspect.signature(cls.__init__).parameters:
        if name == "self":
            continue
        value: Any = (lambda: NOW) if "clock" in name else Tripwire(name)
        object.__setattr__(instance, name, value)
    return instance


def arguments(fn: Callable[..., Any], permit: object) -> tuple[list[Any], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in list(inspect.signature(fn).parameters.items())[1:]:
        if name == "permit":
            value: Any = permit
        elif name == "actor":
            value = Actor("11530231003", "doctor")
        elif param.default is not inspect.Parameter.empty:
            continue
        else:
            value = Tripwire(name)
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return args, kwargs


def forged() -> object:
    fake = object.__new__(permits.Permit)
    for name, value in {
        "patient_ssin": PATIENT,
        "actor_nihii": "11530231003",
        "action": "read-dossier",
        "decision_id": "forged",
        "valid_until": NOW + timedelta(hours=1),
        "data_classes": (),
        "break_the_glass": False,
        "_key": object(),
    }.items():
        object.__setattr__(fake, name, value)
    return fake


def minted(action: permits.Action, valid_until: datetime) -> permits.Permit:
    return permits.mint(
        patient_ssin=PATIENT,
        actor_nihii="11530231003",
        action=action,
        decision_id="test",
        valid_until=valid_until,
    )


BAD_PERMITS: dict[str, Callable[[], object]] = {
    "missing": lambda: None,
    "forged": forged,
    "wrong-action": lambda: minted("submit-claim", NOW + timedelta(hours=1)),
    "expired-read": lambda: minted("read-dossier", NOW - timedelta(seconds=1)),
    "expired-write": lambda: minted("write-note", NOW - timedelta(seconds=1)),
}


def test_the_walk_finds_the_gated_methods_of_every_records_and_mailbox_adapter() -> None:
    names = {f"{cls.__name__}.{method}" for cls, method in GATED}
    assert any(n.endswith(".send_message") for n in names), names
    assert any(n.endswith(".get_transaction") for n in names), names
    assert any(n.endswith(".list_transactions") for n in names), names


def test_every_port_that_reads_a_dossier_or_writes_a_note_takes_a_permit() -> None:
    for protocol, method in (
        (ports.RecordSourcePort, "list_transactions"),
        (ports.RecordSourcePort, "get_transaction"),
        (ports.MailboxPort, "send_message"),
    ):
        assert "permit" in inspect.signature(getattr(protocol, method)).parameters


def _cases() -> list[Any]:
    return [
        pytest.param(cls, method, label, id=f"{cls.__name__}.{method}-{label}")
        for cls, method in GATED
        for label in BAD_PERMITS
    ]


@pytest.mark.parametrize(("cls", "method", "label"), _cases())
async def test_gated_connector_method_refuses_a_bad_permit(
    cls: type, method: str, label: str
) -> None:
    instance = build(cls)
    fn = getattr(cls, method)
    args, kwargs = arguments(fn, BAD_PERMITS[label]())
    with pytest.raises(ConsentDenied):
        await getattr(instance, method)(*args, **kwargs)
