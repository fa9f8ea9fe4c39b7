"""Indicators: failures by time, so provisional counts read only the last objection period's failures.

Without it every figure read scanned the whole inspection table (3 M rows at a province's five years:
180 ms per figure). A partial index: failures are a few per cent of the rows.

Revision ID: 0012_failure_index
Revises: 0011_uploads
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_failure_index"
down_revision: str | Sequence[str] | None = "0011_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILURES = sa.text("verdict = 'fail'")


def upgrade() -> None:
    op.create_index("ix_inspection_failure_time", "inspection", ["occurred_at"], unique=False,
                    postgresql_where=FAILURES, sqlite_where=FAILURES)


def downgrade() -> None:
    op.drop_index("ix_inspection_failure_time", table_name="inspection")
