"""Files several processes write at once: whole or absent, private, one winner for a random key."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

from ehealth_hub.audit.heads import HeadSigner
from ehealth_hub.core.files import create_once, write_atomic
from ehealth_hub.settings import load_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic_replaces_the_content_privately_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "keys" / "client.pem"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert _mode(target) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["client.pem"]


def test_create_once_keeps_the_first_content(tmp_path: Path) -> None:
    target = tmp_path / "audit-key.pem"
    assert create_once(target, b"winner")
    assert not create_once(target, b"late")
    assert target.read_bytes() == b"winner"
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["audit-key.pem"]


def test_of_racing_creators_exactly_one_wins_and_nobody_reads_a_partial_file(
    tmp_path: Path,
) -> None:
    target, racers = tmp_path / "key.pem", 8
    start = Barrier(racers)

    def race(n: int) -> tuple[bool, bytes]:
        start.wait()
        created = create_once(target, f"key of racer {n}".encode() * 1000)
        return created, target.read_bytes()

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(race, range(racers)))
    assert sum(created for created, _ in results) == 1
    assert {seen for _, seen in results} == {target.read_bytes()}


def test_processes_starting_together_share_one_audit_signing_key(tmp_path: Path) -> None:
    settings, racers = load_settings(data_dir=tmp_path), 8
    start = Barrier(racers)

    def start_up(_: int) -> str:
        start.wait()
        return HeadSigner.from_settings(settings).key_id

    with ThreadPoolExecutor(racers) as pool:
        key_ids = set(pool.map(start_up, range(racers)))
    assert len(key_ids) == 1
