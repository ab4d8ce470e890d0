"""Storage: SQLAlchemy 2 async tables, engine factory, Alembic migrations (SQLite, PostgreSQL)."""
