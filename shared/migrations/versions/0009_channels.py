"""Notification channels: a subscription's channel, locale and channel settings; a delivery's channel.

Existing subscriptions and deliveries are webhooks in Chinese (the defaults), so nothing changes for them.

Revision ID: 0009_channels
Revises: 0008_hardening
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_channels"
down_revision: str | Sequence[str] | None = "0008_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="webhook"))
        batch.add_column(sa.Column("locale", sa.String(8), nullable=False, server_default="zh-CN"))
        batch.add_column(sa.Column("options", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="webhook"))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("options")
        batch.drop_column("locale")
        batch.drop_column("channel")
