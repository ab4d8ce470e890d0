"""KMEHR Sumehr -> FHIR translation on the TTC 2023 inputs (sizes 1, 10, 100, 1000).

For each size: the wall and CPU time per call of ``translate_kmehr`` (see :func:`timed`), the
floor measured in the same run on the same bytes with the same protocol (lxml parse with the
hardened parser + iterating every element), their ratios, and the peak resident memory of a fresh
process that reads and translates the file once. CPU time is reported because the sandbox VM is
shared: under load, wall time includes waiting for a core.
The optional ``--validate`` adds the cost of loading every resource with fhir.resources R4B.

Target (issue 3): size 1000 (11.7 MB, 21,000 items) <= 10x the floor and <= 600 MB peak.
Needs ../shared/kmehr-corpus; runs in ~25 s: ``python -m benchmarks.translate [--validate]``.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from ehealth_hub.cli.tuning import for_batch
from ehealth_hub.core.xml import secure_parser
from ehealth_hub.fhir.bundle import validate_bundle
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr

MODELS = Path(__file__).resolve().parents[2] / "shared/kmehr-corpus/ttc2023-kmehr2fhir/models"
SIZES = (1, 10, 100, 1000)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ttc(size: int) -> Path:
    """The TTC input of ``size``."""
    return MODELS / ("sumehr_example.kmehr" if size == 1 else f"sumehr_example{size}.kmehr")


Timing = tuple[float, float]
"""(wall seconds, CPU seconds of this process)."""


def timed(action: Callable[[], object]) -> Timing:
    """Wall and CPU time of one call, its result dropped inside the timed region.

    The heap is collected before (outside the timing) so every call starts from the same state;
    dropping the result inside the timing charges the call with freeing what it built. The
    collector runs with ``ehealth-hub translate``'s settings (:func:`main` is run inside
    :func:`~ehealth_hub.cli.tuning.for_batch`, the function the command uses; the mapping never
    touches the collector): its cost grows with every object alive in the process, so the
    harness keeps no Bundle alive while it times.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def best_of(action: Callable[[], object], runs: int) -> Timing:
    """Best wall and best CPU time of ``runs`` :func:`timed` calls."""
    timings = [timed(action) for _ in range(runs)]
    return min(t[0] for t in timings), min(t[1] for t in timings)


def floor(data: bytes) -> int:
    """What any reader must do: parse with the hardened parser and visit every element."""
    root = etree.fromstring(data, secure_parser())
    return sum(1 for _ in root.iter())


def peak_rss_mb(size: int) -> float:
    """Peak RSS (MB) of a fresh process translating ``size`` once (imports included)."""
    code = (
        "import resource,sys;from datetime import datetime,UTC;"
        "from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr;"
        "b=translate_kmehr(open(sys.argv[1],'rb').read(),now=datetime.now(UTC));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code, str(ttc(size))], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip()) / 1024


def baseline_rss_mb() -> float:
    """Peak RSS (MB) of a fresh process that only imports the mapping."""
    code = (
        "import resource;import ehealth_hub.mappings.kmehr_to_fhir;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip()) / 1024


def main(validate: bool) -> int:
    """Print one row per size; 1 when the corpus is missing."""
    if not MODELS.is_dir():
        print(f"TTC inputs not found at {MODELS}", file=sys.stderr)
        return 1
    print(f"baseline: a process that only imports the mapping peaks at {baseline_rss_mb():.0f} MB")
    header = (
        "| size | MB | entries | floor ms (wall/CPU) | translate ms (wall/CPU) "
        "| ratio wall | ratio CPU | peak RSS MB |"
    )
    if validate:
        header += " + validate ms |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    rows = []
    for size in SIZES:
        data = ttc(size).read_bytes()
        runs = {1: 100, 10: 40, 100: 8, 1000: 3}[size]
        entries = len(translate_kmehr(data, now=NOW)["entry"])
        fw, fc = best_of(lambda data=data: floor(data), runs)
        tw, tc = best_of(lambda data=data: translate_kmehr(data, now=NOW), runs)
        peak = peak_rss_mb(size)
        row = (
            f"| {size} | {len(data) / 1e6:.2f} | {entries} "
            f"| {fw * 1e3:.1f} / {fc * 1e3:.1f} | {tw * 1e3:.1f} / {tc * 1e3:.1f} "
            f"| {tw / fw:.1f}x | {tc / max(fc, 1e-9):.1f}x | {peak:.0f} |"
        )
        if validate:
            bundle = translate_kmehr(data, now=NOW)
            row += f" {timed(lambda bundle=bundle: validate_bundle(bundle))[0] * 1e3:.0f} |"
            del bundle
        print(row, flush=True)
        rows.append({"size": size, "floor": [fw, fc], "translate": [tw, tc], "peak_mb": peak})
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    with for_batch():  # the GC settings of ``ehealth-hub translate``
        code = main("--validate" in sys.argv[1:])
    sys.exit(code)
