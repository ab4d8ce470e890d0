"""Translation of SQLAlchemy and driver exceptions into hub errors
(:class:`~ehealth_hub.core.errors.StorageError`).

The one place where database exceptions become hub errors for the code that stores business data
(consents, audit trail). Integrity violations become :class:`~ehealth_hub.core.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ehealth_hub.core.errors import Conflict, StorageError


@contextmanager
def storage_errors(operation: str) -> Iterator[None]:
    """Run a database operation, raising Conflict or StorageError instead of SQLAlchemy's errors."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(
            f"the database refused a duplicate or inconsistent row ({type(exc.orig).__name__})",
            system="database",
            operation=operation,
        ) from exc
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(
            f"database failure: {type(exc).__name__}", system="database", operation=operation
        ) from exc
