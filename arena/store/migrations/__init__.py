"""Alembic migrations of the vote store, run by :func:`arena.store.migrate.upgrade`."""
