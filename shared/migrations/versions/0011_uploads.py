"""Intake: spreadsheet uploads (who, when, which file, what came of it).

Revision ID: 0011_uploads
Revises: 0010_loop
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "0011_uploads"
down_revision: str | Sequence[str] | None = "0010_loop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_upload",
        sa.Column("upload_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("lab_id", sa.String(100), nullable=True),
        sa.Column("received_at", shared.db.UtcDateTime(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_intake_upload")),
    )
    op.create_index("ix_intake_upload_lab_received", "intake_upload", ["lab_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_intake_upload_lab_received", table_name="intake_upload")
    op.drop_table("intake_upload")
