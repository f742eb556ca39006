"""user session version: a staff session names the version it was signed in under

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:30:00

Every existing user starts at version 1. Sessions signed in before the upgrade name no
version, so they end and their users sign in again once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_version")
