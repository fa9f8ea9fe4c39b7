"""Indicators: the daily tallies summed per calendar month, for windows of months and years.

A year's figure summed 365 daily rows per region and category (a province's figure with its 13 cities:
~40,000 rows, ~100 ms); whole months now come from this table. Filled here from the daily tallies, then
kept by the same statement batch that adds to them.

Revision ID: 0013_monthly_tally
Revises: 0012_failure_index
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0013_monthly_tally"
down_revision: str | Sequence[str] | None = "0012_failure_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = "numerator, denominator, extra, score_sum, score_sq_sum"


def upgrade() -> None:
    op.create_table(
        "monthly_tally",
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.Column("extra", sa.BigInteger(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("score_sq_sum", sa.Float(), nullable=False),
        sa.Column("last_event_at", shared.db.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("indicator", "region", "month", "category", name=op.f("pk_monthly_tally")),
    )
    # SQLite keeps a Date as 'YYYY-MM-DD' text.
    month = ("CAST(date_trunc('month', day) AS date)" if op.get_bind().dialect.name == "postgresql"
             else "date(day, 'start of month')")
    sums = ", ".join(f"sum({c})" for c in SUMS.split(", "))
    op.execute(f"INSERT INTO monthly_tally (indicator, region, month, category, {SUMS}, last_event_at) "
               f"SELECT indicator, region, {month}, category, {sums}, max(last_event_at) FROM daily_tally "
               f"GROUP BY indicator, region, {month}, category")


def downgrade() -> None:
    op.drop_table("monthly_tally")
