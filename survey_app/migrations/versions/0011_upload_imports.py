"""upload imports

Revision ID: 0011
Revises: 0010

Creates ``upload_import``: one row per uploaded file imported by a background job
(``survey_app.imports``), with a unique idempotency key, the job's id and the outcome (rows
stored, or the problems found). Downgrade drops the table (import history only; the imported
invitations and returns stay).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "upload_import",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued", "imported", "refused", name="import_status", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_upload_import_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_import")),
        sa.UniqueConstraint("key", name=op.f("uq_upload_import_key")),
    )
    with op.batch_alter_table("upload_import", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_import_wave_id"), ["wave_id"], unique=False)


def downgrade():
    with op.batch_alter_table("upload_import", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_import_wave_id"))
    op.drop_table("upload_import")
