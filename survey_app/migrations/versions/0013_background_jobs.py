"""background jobs

Revision ID: 0013
Revises: 0011

Creates ``job``: the state of every background job (``survey_app.jobs``), readable by every
process. ``active_key`` is unique and set only while a job is queued or running, so one key
never has two jobs in flight (NULLs are distinct on SQLite and PostgreSQL alike).
Downgrade drops the table (job history only; no survey data).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("active_key", sa.String(length=200), nullable=True),
        sa.Column("function", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "finished",
                "failed",
                name="job_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("active_key", name=op.f("uq_job_active_key")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_enqueued_at"), ["enqueued_at"], unique=False)


def downgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_enqueued_at"))
        batch_op.drop_index(batch_op.f("ix_job_key"))
    op.drop_table("job")
