"""Indicators: applied events, subject state, daily tallies, reports, dead letters, published figures.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applied_event",
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("applied_at", shared.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_applied_event")),
    )
    op.create_table(
        "inspection",
        sa.Column("sample_id", sa.String(100), nullable=False),
        sa.Column("programme", sa.String(100), nullable=False),
        sa.Column("indicator", sa.String(100), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("occurred_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_inspection")),
    )
    op.create_table(
        "acceptance",
        sa.Column("project_id", sa.String(100), nullable=False),
        sa.Column("size", sa.String(8), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("first_time_pass", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("occurred_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_acceptance")),
    )
    op.create_table(
        "sample",
        sa.Column("sample_id", sa.String(100), nullable=False),
        sa.Column("programme", sa.String(100), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("collected_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_sample")),
    )
    op.create_table(
        "daily_tally",
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.Column("extra", sa.BigInteger(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("score_sq_sum", sa.Float(), nullable=False),
        sa.Column("last_event_at", shared.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("indicator", "region", "day", "category", name=op.f("pk_daily_tally")),
    )
    op.create_table(
        "reported_figure",
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=True),
        sa.Column("denominator", sa.BigInteger(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("occurred_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("reported_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("indicator", "region", "period", name=op.f("pk_reported_figure")),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=True),
        sa.Column("source_topic", sa.String(255), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("raw_value", sa.LargeBinary(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("received_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("replayed_at", shared.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
        sa.UniqueConstraint("source_topic", "source_partition", "source_offset", name="uq_dead_letter_source"),
    )
    op.create_table(
        "published_figure",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("published_at", shared.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_published_figure")),
    )


def downgrade() -> None:
    for table in ("published_figure", "dead_letter", "reported_figure", "daily_tally", "sample", "acceptance",
                  "inspection", "applied_event"):
        op.drop_table(table)
