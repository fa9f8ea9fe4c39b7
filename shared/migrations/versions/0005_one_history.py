"""Merge the intake, indicators and alerts branches into one history.

0002, 0003 and 0004 each revise 0001, so the history had three heads and ``alembic revision`` refused
to add a fourth. This revision changes no table: it only joins them, so that a database stamped with
the three branch heads and a new one both reach the single head. New migrations revise this one.

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0002", "0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
