"""``python -m benchmarks [NAME...]``: run each benchmark module as its own process.

Each benchmark is a script (``python -m benchmarks.NAME``) that measures one capability against a
floor taken in the same run and prints absolute figures and ratios; separate processes keep one
benchmark's memory and threads from skewing the next.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    """Run the named benchmarks (default: all); 1 when any fails."""
    here = Path(__file__).parent
    found = (m.name for m in pkgutil.iter_modules([str(here)]))
    modules = names or sorted(n for n in found if not n.startswith("_"))  # _x: helpers
    failed = []
    for name in modules:
        print(f"\n=== {name} ===", flush=True)
        cmd = [sys.executable, "-m", f"benchmarks.{name}"]
        if subprocess.run(cmd, check=False).returncode != 0:  # noqa: S603  # our own modules
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
