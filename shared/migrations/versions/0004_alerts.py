"""Alerts: alert state and history, subscriptions, the delivery outbox and attempts, silences.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("alert",
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("figure_key", sa.String(length=300), nullable=False),
    sa.Column("indicator", sa.String(length=64), nullable=False),
    sa.Column("region", sa.String(length=12), nullable=False),
    sa.Column("category", sa.String(length=64), nullable=True),
    sa.Column("window", sa.String(length=16), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("severity", sa.String(length=16), nullable=True),
    sa.Column("status", sa.String(length=24), nullable=True),
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("ci95_lo", sa.Float(), nullable=True),
    sa.Column("ci95_hi", sa.Float(), nullable=True),
    sa.Column("numerator", sa.Float(), nullable=True),
    sa.Column("denominator", sa.Float(), nullable=True),
    sa.Column("target_op", sa.String(length=2), nullable=False),
    sa.Column("target_value", sa.Float(), nullable=False),
    sa.Column("figure_as_of", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("active_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("started_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("resolved_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("ok_since", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("notified_state", sa.String(length=16), nullable=True),
    sa.Column("notified_severity", sa.String(length=16), nullable=True),
    sa.Column("last_notified_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("muted_key", sa.String(length=100), nullable=True),
    sa.Column("last_figure_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("acked_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("acked_by", sa.String(length=100), nullable=True),
    sa.Column("ack_comment", sa.Text(), nullable=True),
    sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("updated_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert")),
    sa.UniqueConstraint("figure_key", name=op.f("uq_alert_figure_key"))
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_state"), ["state"], unique=False)

    op.create_table("silence",
    sa.Column("silence_id", sa.String(length=36), nullable=False),
    sa.Column("indicator", sa.String(length=64), nullable=True),
    sa.Column("region", sa.String(length=12), nullable=True),
    sa.Column("category", sa.String(length=64), nullable=True),
    sa.Column("starts_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("ends_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("created_by", sa.String(length=100), nullable=True),
    sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("expired_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("silence_id", name=op.f("pk_silence"))
    )
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silence_ends_at"), ["ends_at"], unique=False)

    op.create_table("subscription",
    sa.Column("subscription_id", sa.String(length=36), nullable=False),
    sa.Column("agency_id", sa.String(length=100), nullable=False),
    sa.Column("url", sa.String(length=2048), nullable=False),
    sa.Column("secret", sa.String(length=256), nullable=False),
    sa.Column("min_severity", sa.String(length=16), nullable=False),
    sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(length=100), nullable=True),
    sa.Column("deleted_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription"))
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_agency_id"), ["agency_id"], unique=False)

    op.create_table("alert_transition",
    sa.Column("transition_id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("from_state", sa.String(length=16), nullable=True),
    sa.Column("to_state", sa.String(length=16), nullable=False),
    sa.Column("from_severity", sa.String(length=16), nullable=True),
    sa.Column("to_severity", sa.String(length=16), nullable=True),
    sa.Column("reason", sa.String(length=300), nullable=False),
    sa.Column("figure", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["alert_id"], ["alert.alert_id"],
                            name=op.f("fk_alert_transition_alert_id_alert"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("transition_id", name=op.f("pk_alert_transition"))
    )
    with op.batch_alter_table("alert_transition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_transition_alert_id"), ["alert_id"], unique=False)

    op.create_table("delivery",
    sa.Column("delivery_id", sa.String(length=36), nullable=False),
    sa.Column("subscription_id", sa.String(length=36), nullable=False),
    sa.Column("agency_id", sa.String(length=100), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("payload_status", sa.String(length=16), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("retry_started_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("last_attempt_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["subscription_id"], ["subscription.subscription_id"],
                            name=op.f("fk_delivery_subscription_id_subscription")),
    sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery"))
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index("ix_delivery_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_subscription_id"), ["subscription_id"], unique=False)

    op.create_table("delivery_alert",
    sa.Column("delivery_id", sa.String(length=36), nullable=False),
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("notice", sa.String(length=16), nullable=False),
    sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["alert_id"], ["alert.alert_id"],
                            name=op.f("fk_delivery_alert_alert_id_alert"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["delivery_id"], ["delivery.delivery_id"],
                            name=op.f("fk_delivery_alert_delivery_id_delivery"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("delivery_id", "alert_id", name=op.f("pk_delivery_alert"))
    )
    with op.batch_alter_table("delivery_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_alert_alert_id"), ["alert_id"], unique=False)

    op.create_table("delivery_attempt",
    sa.Column("attempt_id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("delivery_id", sa.String(length=36), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["delivery_id"], ["delivery.delivery_id"],
                            name=op.f("fk_delivery_attempt_delivery_id_delivery"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_delivery_attempt"))
    )
    with op.batch_alter_table("delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_attempt_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_table("delivery_attempt")
    op.drop_table("delivery_alert")
    op.drop_table("delivery")
    op.drop_table("alert_transition")
    op.drop_table("subscription")
    op.drop_table("silence")
    op.drop_table("alert")
