"""sealed drafts for every wave mode, replacing invite_draft

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:20:00

Creates ``draft``: answers in progress, keyed by SHA-256 of a draft id that only the
respondent's session cookie holds and sealed (padded AES-GCM) under a key derived from the
server secret and two secrets in that cookie (``survey_app.drafts``). On SQLite the table has
no rowid, so insertion order is not kept either.

Drops ``invite_draft``. Its rows are NOT carried over, by design: they are the plaintext,
unredacted answers keyed by invitation that a database reader could pair with a name, and
they cannot be sealed to a browser secret the server never had. The answers they copied are
still in each respondent's old session cookie, which the app moves into a sealed draft on
that respondent's next request (``survey_app.survey.progress``). Downgrade recreates an empty
``invite_draft`` and drops ``draft`` (drafts in progress are then lost).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "draft",
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_draft_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_draft")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_wave_id"), ["wave_id"], unique=False)
    op.drop_table("invite_draft")


def downgrade():
    op.create_table(
        "invite_draft",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name=op.f("fk_invite_draft_invitation_id_invitation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_invite_draft")),
    )
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_wave_id"))
    op.drop_table("draft")
