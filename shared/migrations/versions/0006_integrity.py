"""Integrity: senders, ownership, lab accreditation, event outcomes.

- ``api_key``: a lab key's accredited ``programmes`` and ``regions`` (NULL: not restricted).
- ``intake_event``: keyed by (sender, event_id) — idempotency is per sender; Kafka position NULL while an
  event is claimed but not yet acknowledged. Existing rows get the sender of their lab.
- ``intake_subject`` / ``subject_owner``: the first sender of each sample, project and reported figure, as
  intake and indicators each enforce it.
- ``applied_event``: keyed by (sender, event_id), with the outcome (applied / ignored) and the revision that
  stands; existing rows get the sender '' that messages without a ``qw-sender`` header (published before
  this revision) are read with.
- ``dead_letter.sender``: whose event it was, for the sender's status look-up.

Revision ID: 0006_integrity
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0006_integrity"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("programmes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("regions", sa.Text(), nullable=True))

    op.add_column("intake_event", sa.Column("sender", sa.String(120), nullable=True))
    op.execute("UPDATE intake_event SET sender = 'lab:' || lab_id")
    with op.batch_alter_table("intake_event") as batch:
        batch.alter_column("sender", existing_type=sa.String(120), nullable=False)
        batch.alter_column("kafka_partition", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("kafka_offset", existing_type=sa.BigInteger(), nullable=True)
        batch.drop_constraint("pk_intake_event", type_="primary")
        batch.create_primary_key("pk_intake_event", ["sender", "event_id"])

    op.create_table(
        "intake_subject",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("claimed_at", shared.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_intake_subject")),
    )
    op.create_table(
        "subject_owner",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("claimed_at", shared.db.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_subject_owner")),
    )

    op.add_column("applied_event", sa.Column("sender", sa.String(120), nullable=True))
    op.add_column("applied_event", sa.Column("outcome", sa.String(16), nullable=True))
    op.add_column("applied_event", sa.Column("standing_revision", sa.Integer(), nullable=True))
    op.execute("UPDATE applied_event SET sender = '', outcome = 'applied'")
    with op.batch_alter_table("applied_event") as batch:
        batch.alter_column("sender", existing_type=sa.String(120), nullable=False)
        batch.alter_column("outcome", existing_type=sa.String(16), nullable=False)
        batch.drop_constraint("pk_applied_event", type_="primary")
        batch.create_primary_key("pk_applied_event", ["sender", "event_id"])

    op.add_column("dead_letter", sa.Column("sender", sa.String(120), nullable=True))
    op.create_index("ix_dead_letter_sender_event", "dead_letter", ["sender", "event_id"])


def downgrade() -> None:
    op.drop_index("ix_dead_letter_sender_event", table_name="dead_letter")
    with op.batch_alter_table("dead_letter") as batch:
        batch.drop_column("sender")
    with op.batch_alter_table("applied_event") as batch:
        batch.drop_constraint("pk_applied_event", type_="primary")
        batch.create_primary_key("pk_applied_event", ["event_id"])
        batch.drop_column("standing_revision")
        batch.drop_column("outcome")
        batch.drop_column("sender")
    op.drop_table("subject_owner")
    op.drop_table("intake_subject")
    with op.batch_alter_table("intake_event") as batch:
        batch.drop_constraint("pk_intake_event", type_="primary")
        batch.create_primary_key("pk_intake_event", ["event_id"])
        batch.drop_column("sender")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("regions")
        batch.drop_column("programmes")
