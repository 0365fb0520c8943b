"""The schema as it was before Alembic (13 tables); adopts a database the earlier code created.

On a database that has the tables but no ``alembic_version`` (created by ``create_all`` and the in-place column
adder), tables that are missing are created and columns that are missing are added (nullable, as that adder
did); nothing present is changed.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[sa.Table]:
    md = sa.MetaData()
    return [
        sa.Table(
            'asks', md,
            sa.Column('request_id', sa.String(length=64), nullable=False),
            sa.Column('question', sa.Text(), nullable=False),
            sa.Column('decision', sa.String(length=20), nullable=False),
            sa.Column('confidence', sa.Double(), nullable=False),
            sa.Column('top_id', sa.String(length=200), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('request_id'),
            sa.Index('ix_asks_created_at', 'created_at'),
        ),
        sa.Table(
            'candidates', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('source', sa.String(length=1000), nullable=False),
            sa.Column('question', sa.Text(), nullable=False),
            sa.Column('answer', sa.Text(), nullable=False),
            sa.Column('count', sa.Integer(), nullable=False),
            sa.Column('examples', sa.JSON(), nullable=False),
            sa.Column('tickets', sa.JSON(), nullable=False),
            sa.Column('team', sa.String(length=200), nullable=True),
            sa.Column('status', sa.String(length=20), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('evidence', sa.JSON(), nullable=True),
            sa.Column('tags', sa.JSON(), nullable=True),
            sa.Column('entry_id', sa.String(length=200), nullable=True),
            sa.Column('reviewed_by', sa.String(length=200), nullable=True),
            sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
            sa.Column('note', sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_candidates_source', 'source'),
        ),
        sa.Table(
            'demotions', md,
            sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
            sa.Column('entry_id', sa.String(length=200), nullable=False),
            sa.Column('questions', sa.JSON(), nullable=False),
            sa.Column('vectors', sa.JSON(), nullable=False),
            sa.Column('feedback_ids', sa.JSON(), nullable=False),
            sa.Column('active', sa.Boolean(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_demotions_entry_id', 'entry_id'),
        ),
        sa.Table(
            'documents', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('source', sa.String(length=1000), nullable=False),
            sa.Column('title', sa.Text(), nullable=False),
            sa.Column('format', sa.String(length=20), nullable=False),
            sa.Column('category', sa.String(length=200), nullable=True),
            sa.Column('product', sa.String(length=200), nullable=True),
            sa.Column('tags', sa.JSON(), nullable=False),
            sa.Column('lang', sa.String(length=20), nullable=True),
            sa.Column('extra', sa.JSON(), nullable=False),
            sa.Column('content_hash', sa.String(length=64), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_documents_source', 'source'),
        ),
        sa.Table(
            'entries', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('source', sa.String(length=1000), nullable=False),
            sa.Column('question', sa.Text(), nullable=False),
            sa.Column('answer', sa.Text(), nullable=False),
            sa.Column('alt_questions', sa.JSON(), nullable=False),
            sa.Column('category', sa.String(length=200), nullable=True),
            sa.Column('product', sa.String(length=200), nullable=True),
            sa.Column('tags', sa.JSON(), nullable=False),
            sa.Column('lang', sa.String(length=20), nullable=True),
            sa.Column('extra', sa.JSON(), nullable=False),
            sa.Column('content_hash', sa.String(length=64), nullable=False),
            sa.Column('status', sa.String(length=20), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_entries_source', 'source'),
        ),
        sa.Table(
            'entry_versions', md,
            sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
            sa.Column('entry_id', sa.String(length=200), nullable=False),
            sa.Column('version', sa.Integer(), nullable=False),
            sa.Column('snapshot', sa.JSON(), nullable=False),
            sa.Column('provenance', sa.String(length=40), nullable=False),
            sa.Column('actor', sa.String(length=1000), nullable=True),
            sa.Column('note', sa.Text(), nullable=True),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.UniqueConstraint('entry_id', 'version', name='uq_entry_version'),
            sa.Index('ix_entry_versions_entry_id', 'entry_id'),
        ),
        sa.Table(
            'feedback', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('request_id', sa.String(length=64), nullable=False),
            sa.Column('helpful', sa.Boolean(), nullable=False),
            sa.Column('entry_id', sa.String(length=200), nullable=True),
            sa.Column('comment', sa.Text(), nullable=True),
            sa.Column('user', sa.String(length=200), nullable=True),
            sa.Column('outcome', sa.String(length=200), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('answered_id', sa.String(length=200), nullable=True),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_feedback_request_id', 'request_id'),
            sa.Index('ix_feedback_answered_id', 'answered_id'),
        ),
        sa.Table(
            'kb_meta', md,
            sa.Column('key', sa.String(length=100), nullable=False),
            sa.Column('value', sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint('key'),
        ),
        sa.Table(
            'resolutions', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('request_id', sa.String(length=64), nullable=True),
            sa.Column('questions', sa.JSON(), nullable=False),
            sa.Column('answer', sa.Text(), nullable=False),
            sa.Column('team', sa.String(length=200), nullable=True),
            sa.Column('tags', sa.JSON(), nullable=False),
            sa.Column('agent', sa.String(length=200), nullable=True),
            sa.Column('entry_id', sa.String(length=200), nullable=True),
            sa.Column('candidate_id', sa.String(length=200), nullable=True),
            sa.Column('outcome', sa.String(length=200), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
        ),
        sa.Table(
            'sessions', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('last_question', sa.Text(), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id'),
        ),
        sa.Table(
            'sources', md,
            sa.Column('uri', sa.String(length=1000), nullable=False),
            sa.Column('kind', sa.String(length=20), nullable=False),
            sa.Column('content_hash', sa.String(length=64), nullable=False),
            sa.Column('records', sa.Integer(), nullable=False),
            sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('uri'),
        ),
        sa.Table(
            'tickets', md,
            sa.Column('id', sa.String(length=300), nullable=False),
            sa.Column('source', sa.String(length=1000), nullable=False),
            sa.Column('customer', sa.JSON(), nullable=False),
            sa.Column('agent', sa.JSON(), nullable=False),
            sa.Column('status', sa.String(length=200), nullable=True),
            sa.Column('team', sa.String(length=200), nullable=True),
            sa.Column('created', sa.String(length=100), nullable=True),
            sa.Column('channel', sa.String(length=100), nullable=True),
            sa.Column('extra', sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_tickets_source', 'source'),
        ),
        sa.Table(
            'units', md,
            sa.Column('id', sa.String(length=200), nullable=False),
            sa.Column('source', sa.String(length=1000), nullable=False),
            sa.Column('kind', sa.String(length=20), nullable=False),
            sa.Column('entry_id', sa.String(length=200), nullable=True),
            sa.Column('doc_id', sa.String(length=200), nullable=True),
            sa.Column('payload', sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint('id'),
            sa.Index('ix_units_doc_id', 'doc_id'),
            sa.Index('ix_units_entry_id', 'entry_id'),
            sa.Index('ix_units_source', 'source'),
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in _tables():
        if not inspector.has_table(table.name):
            table.create(bind)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)


def downgrade() -> None:
    for table in reversed(_tables()):
        op.drop_table(table.name)
