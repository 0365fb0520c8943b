"""Alembic environment and revisions of the system of record's schema (run by ``core.store.migrate``)."""
