"""sealed rows stored inline on PostgreSQL

Revision ID: 0018
Revises: 0015

A sealed held submission or draft (2,076 bytes at the smallest padding) is just over
PostgreSQL's default ``toast_tuple_target`` (2,032 bytes), so every insert and delete of one
also wrote two chunks and two index entries of a TOAST table. With the target at its
maximum (8,160) rows up to that size stay in the table's own page; the larger paddings
(16 and 128 KiB, long comments) are still moved out of line. SQLite: nothing to do.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("held_submission", "draft")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (toast_tuple_target = 8160)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (toast_tuple_target)")
