"""Indicators: the failures-by-time index carries what provisional counts read (PostgreSQL).

With only ``occurred_at`` in it, counting the failures awaiting a re-test fetched every failure of the window
from the table (a year's: 16,000 rows at a province's size, ~25 ms a figure); with the counted columns
included the read stays in the index. SQLite keeps the plain index (small local databases).

Revision ID: 0014_failures_covering
Revises: 0013_monthly_tally
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_failures_covering"
down_revision: str | Sequence[str] | None = "0013_monthly_tally"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILURES = sa.text("verdict = 'fail'")
INCLUDED = ["indicator", "programme", "region", "category", "sample_id", "revision"]


def upgrade() -> None:
    op.drop_index("ix_inspection_failure_time", table_name="inspection")
    op.create_index("ix_inspection_failure_time", "inspection", ["occurred_at"], unique=False,
                    postgresql_where=FAILURES, postgresql_include=INCLUDED, sqlite_where=FAILURES)


def downgrade() -> None:
    op.drop_index("ix_inspection_failure_time", table_name="inspection")
    op.create_index("ix_inspection_failure_time", "inspection", ["occurred_at"], unique=False,
                    postgresql_where=FAILURES, sqlite_where=FAILURES)
