"""wave publication: the figures viewers see, per wave

Revision ID: 0010
Revises: 0009

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wave_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["user_account.id"],
            name=op.f("fk_wave_publication_published_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["wave.id"],
            ondelete="CASCADE",
            name=op.f("fk_wave_publication_wave_id_wave"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave_publication")),
    )
    with op.batch_alter_table("wave_publication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wave_publication_wave_id"), ["wave_id"], unique=False)


def downgrade():
    with op.batch_alter_table("wave_publication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wave_publication_wave_id"))
    op.drop_table("wave_publication")
