"""Learning that one caller cannot poison: who voted or resolved (``caller_key``), which entries an answer cited
or offered (``asks.offered``); indexes for the retention purge (feedback by age, sessions by last use).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("asks") as batch:
        batch.add_column(sa.Column("offered", sa.JSON(), nullable=True))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("caller_key", sa.String(length=200), nullable=True))
    with op.batch_alter_table("resolutions") as batch:
        batch.add_column(sa.Column("caller_key", sa.String(length=200), nullable=True))
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"], unique=False)
    op.create_index("ix_sessions_updated_at", "sessions", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sessions_updated_at", table_name="sessions")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    with op.batch_alter_table("resolutions") as batch:
        batch.drop_column("caller_key")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("caller_key")
    with op.batch_alter_table("asks") as batch:
        batch.drop_column("offered")
