"""Files that several hub processes may write at once: never seen half-written, private from birth.

``serve --workers N``, several ``worker`` processes and the CLI share one data directory, and each
may be the first to create the sandbox keys or the audit signing key there. A plain
``write_bytes`` lets another process read a truncated file (and a key file be world-readable until
its ``chmod``). Here every file is written whole to a private temporary file (mode 0600, from
:func:`tempfile.mkstemp`) in the same directory, flushed to disk, then:

* :func:`write_atomic` renames it over the target (POSIX ``rename``: readers see the old or the
  new content), for content every writer agrees on (derived from a seed);
* :func:`create_once` hard-links it to the target, which fails when the target exists, so of
  several processes creating a random key exactly one wins and the others read the winner's.

Public API::

    write_atomic(path, content) -> None
    create_once(path, content) -> bool       # True: this call created the file
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["create_once", "write_atomic"]


def _private_copy(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    return Path(name)


def write_atomic(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` in one step (mode 0600)."""
    temporary = _private_copy(path, content)
    try:
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def create_once(path: Path, content: bytes) -> bool:
    """Create ``path`` with ``content`` (mode 0600) unless it exists; True if this call did."""
    temporary = _private_copy(path, content)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return True
