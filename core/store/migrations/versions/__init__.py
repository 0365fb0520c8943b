"""Alembic revisions, one per schema change, numbered in order (``down_revision`` is the one before)."""
