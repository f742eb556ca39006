"""second factor (TOTP) and recovery codes for staff sign-in

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:20:00

Creates ``second_factor`` (one confirmed authenticator app per user: the sealed TOTP secret,
the enrolment id remembered browsers are bound to, the last accepted time step) and
``recovery_code`` (argon2id hashes of single-use recovery codes). Existing users start with
no second factor: those in ``MFA_REQUIRED_ROLES`` set one up at their next sign-in.

Downgrade drops both tables (every enrolment is lost).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "second_factor",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("enrolment", sa.String(length=32), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_second_factor_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_second_factor")),
        sa.UniqueConstraint("enrolment", name=op.f("uq_second_factor_enrolment")),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["second_factor.user_id"],
            name=op.f("fk_recovery_code_user_id_second_factor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_user_id"))
    op.drop_table("recovery_code")
    op.drop_table("second_factor")
