"""action plans, group sizes and scheduled reminders

Revision ID: 0015
Revises: 0013

Creates ``action`` (what was heard, what will be done, owner, due date, status, evidence,
published flag), ``action_note`` (its progress notes, kept as history), ``group_size`` (an
audience's uploaded group sizes, for who responded) and ``wave_reminder`` (reminders
scheduled per wave, each sent once). Downgrade drops the four (no survey data).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("heard_wave_id", sa.Integer(), nullable=True),
        sa.Column("heard", sa.Text(), nullable=False),
        sa.Column("outcome_id", sa.String(length=64), nullable=True),
        sa.Column("measure_id", sa.String(length=64), nullable=True),
        sa.Column("theme_id", sa.String(length=64), nullable=True),
        sa.Column("cell", sa.String(length=200), nullable=True),
        sa.Column("planned", sa.Text(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "not started",
                "in progress",
                "done",
                "dropped",
                name="action_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("dropped_reason", sa.Text(), nullable=True),
        sa.Column("evidence_url", sa.String(length=500), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status != 'dropped' OR dropped_reason IS NOT NULL",
            name=op.f("ck_action_dropped_has_reason"),
        ),
        sa.CheckConstraint(
            "owner_user_id IS NOT NULL OR owner_name IS NOT NULL", name=op.f("ck_action_has_owner")
        ),
        sa.ForeignKeyConstraint(
            ["heard_wave_id"],
            ["wave.id"],
            name=op.f("fk_action_heard_wave_id_wave"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["user_account.id"],
            name=op.f("fk_action_owner_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action")),
    )
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_heard_wave_id"), ["heard_wave_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_action_instrument_id"), ["instrument_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_action_outcome_id"), ["outcome_id"], unique=False)

    op.create_table(
        "action_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "not started",
                "in progress",
                "done",
                "dropped",
                name="action_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
            name=op.f("fk_action_note_action_id_action"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_action_note_author_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_note")),
    )
    with op.batch_alter_table("action_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_note_action_id"), ["action_id"], unique=False)
    op.create_table(
        "group_size",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_on", sa.Date(), nullable=False),
        sa.CheckConstraint("size > 0", name=op.f("ck_group_size_size_positive")),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_group_size_uploaded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_size")),
        sa.UniqueConstraint(
            "audience", "attribute", "value", name=op.f("uq_group_size_audience_attribute_value")
        ),
    )
    op.create_table(
        "wave_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("days >= 1", name=op.f("ck_wave_reminder_days_positive")),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_wave_reminder_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave_reminder")),
        sa.UniqueConstraint("wave_id", "days", name=op.f("uq_wave_reminder_wave_id_days")),
    )
    with op.batch_alter_table("wave_reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wave_reminder_wave_id"), ["wave_id"], unique=False)


def downgrade():
    with op.batch_alter_table("wave_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wave_reminder_wave_id"))

    op.drop_table("wave_reminder")
    op.drop_table("group_size")
    with op.batch_alter_table("action_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_note_action_id"))

    op.drop_table("action_note")
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_outcome_id"))
        batch_op.drop_index(batch_op.f("ix_action_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_action_heard_wave_id"))

    op.drop_table("action")
