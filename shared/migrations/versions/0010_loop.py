"""The rectification loop (issue 19): alert loop state, the append-only alert timeline, follow-up
inspections and objections to inspection results.

``alert_timeline`` is append-only: besides the ORM's refusal, a trigger refuses UPDATE and DELETE in
the database itself (PostgreSQL: a PL/pgSQL function; SQLite: RAISE(ABORT)).

Revision ID: 0010_loop
Revises: 0009_channels (chained after main's revisions at merge)
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0010_loop"
down_revision: str | Sequence[str] | None = "0009_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION qw_alert_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'alert_timeline is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table("alert_loop",
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("episode_started_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("stage", sa.String(length=16), nullable=False),
    sa.Column("plan_unit", sa.String(length=200), nullable=True),
    sa.Column("plan_deadline", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("plan_comment", sa.Text(), nullable=True),
    sa.Column("plan_set_by", sa.String(length=100), nullable=True),
    sa.Column("plan_set_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("escalated_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("follow_ups", sa.Integer(), nullable=False),
    sa.Column("follow_ups_failed", sa.Integer(), nullable=False),
    sa.Column("rectified_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("resolved_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("closed_at", shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column("provisional", sa.Integer(), nullable=True),
    sa.Column("contributors", sa.Text(), nullable=True),
    sa.Column("updated_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["alert_id"], ["alert.alert_id"], name=op.f("fk_alert_loop_alert_id_alert")),
    sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_loop"))
    )
    op.create_table("alert_timeline",
    sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("actor", sa.String(length=100), nullable=True),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["alert_id"], ["alert.alert_id"], name=op.f("fk_alert_timeline_alert_id_alert")),
    sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_alert_timeline"))
    )
    with op.batch_alter_table("alert_timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_timeline_alert_id"), ["alert_id"], unique=False)
    op.create_table("follow_up_inspection",
    sa.Column("sample_id", sa.String(length=100), nullable=False),
    sa.Column("alert_id", sa.String(length=32), nullable=False),
    sa.Column("indicator", sa.String(length=64), nullable=False),
    sa.Column("region", sa.String(length=6), nullable=False),
    sa.Column("verdict", sa.String(length=8), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("occurred_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("event_id", sa.String(length=100), nullable=False),
    sa.Column("recorded_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_follow_up_inspection"))
    )
    with op.batch_alter_table("follow_up_inspection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_up_inspection_alert_id"), ["alert_id"], unique=False)
    op.create_table("inspection_objection",
    sa.Column("sample_id", sa.String(length=100), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("objected_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column("event_id", sa.String(length=100), nullable=False),
    sa.Column("recorded_at", shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_inspection_objection"))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER alert_timeline_append_only BEFORE UPDATE OR DELETE ON alert_timeline "
                   "FOR EACH ROW EXECUTE FUNCTION qw_alert_timeline_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER alert_timeline_no_{action.lower()} BEFORE {action} ON alert_timeline "
                       "BEGIN SELECT RAISE(ABORT, 'alert_timeline is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS alert_timeline_append_only ON alert_timeline")
        op.execute("DROP FUNCTION IF EXISTS qw_alert_timeline_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS alert_timeline_no_update")
        op.execute("DROP TRIGGER IF EXISTS alert_timeline_no_delete")
    op.drop_table("inspection_objection")
    with op.batch_alter_table("follow_up_inspection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_inspection_alert_id"))
    op.drop_table("follow_up_inspection")
    with op.batch_alter_table("alert_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_timeline_alert_id"))
    op.drop_table("alert_timeline")
    op.drop_table("alert_loop")
