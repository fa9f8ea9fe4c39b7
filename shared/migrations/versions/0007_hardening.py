"""Acknowledgements per agency: the append-only ``alert_ack`` table.

Revision ID: 0007_hardening
Revises: 0006_key_last_used
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0007_hardening"
down_revision: str | None = "0006_key_last_used"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("alert_ack",
    sa.Column("ack_id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("agency_id", sa.String(length=100), nullable=True),
    sa.Column("actor", sa.String(length=100), nullable=False),
    sa.Column("episode_started_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("severity", sa.String(length=16), nullable=True),
    sa.Column("comment", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["alert_id"], ["alert.alert_id"], name=op.f("fk_alert_ack_alert_id_alert"),
                            ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("ack_id", name=op.f("pk_alert_ack"))
    )
    with op.batch_alter_table("alert_ack", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_ack_alert_id"), ["alert_id"], unique=False)
    # Acks made before this revision live on in alert.acked_at/acked_by/ack_comment (operator-wide, as they
    # were); they are copied as the history's first entries.
    op.execute("INSERT INTO alert_ack (alert_id, at, role, agency_id, actor, episode_started_at, severity, comment) "
               "SELECT alert_id, acked_at, CASE WHEN acked_by LIKE 'agency:%' THEN 'agency' ELSE 'operator' END, "
               "CASE WHEN acked_by LIKE 'agency:%' THEN SUBSTR(acked_by, 8) END, COALESCE(acked_by, 'unknown'), "
               "started_at, notified_severity, ack_comment "
               "FROM alert WHERE acked_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("alert_ack", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_ack_alert_id"))
    op.drop_table("alert_ack")
