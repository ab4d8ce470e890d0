"""The store of used client-assertion ids (RFC 7523 section 3: ``jti`` replay protection).

A row per (client, jti) until the assertion expires; the primary key makes a second use fail
atomically across API processes. Expired rows are pruned on the way (an assertion cannot be
replayed after its ``exp`` anyway). SQLAlchemy errors become StorageError here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ehealth_hub.core.errors import StorageError
from ehealth_hub.store.tables import auth_assertion_ids


class SqlJtiStore:
    """Used assertion ids in the hub's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def remember(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record ``jti`` for ``client_id``; False when it was already used."""
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    delete(auth_assertion_ids).where(auth_assertion_ids.c.expires_at < now)
                )
                await conn.execute(
                    insert(auth_assertion_ids).values(
                        client_id=client_id, jti=jti, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot record the assertion id: {type(exc).__name__}",
                system="database",
                operation="auth.jti",
            ) from exc
        return True
