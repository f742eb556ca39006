"""comment coding and safeguarding flags; redact existing comments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:02:27.742326

Creates ``comment_coding`` (each coder's themes for a comment) and ``safeguarding_flag``
(comments matching the configured safeguarding signals). A one-off data step then redacts
every stored free-text answer with the configured names (answers stored before redaction at
ingest existed, or before a name was added) and flags existing comments.

Downgrade drops the two tables. Redaction is NOT reversed: the original text is gone, by design.
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from analysis.text.redaction import flag_safeguarding, redact
from instruments import load_definitions

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Lightweight table descriptions: a migration must not depend on today's models.
_version = sa.table(
    "instrument_version", sa.column("id", sa.Integer), sa.column("definition", sa.JSON)
)
_wave = sa.table(
    "wave", sa.column("id", sa.Integer), sa.column("instrument_version_id", sa.Integer)
)
_response = sa.table("response", sa.column("id", sa.String), sa.column("wave_id", sa.Integer))
_answer = sa.table(
    "answer",
    sa.column("response_id", sa.String),
    sa.column("question_id", sa.String),
    sa.column("value", sa.Text),
)


def upgrade():
    op.create_table(
        "comment_coding",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("coder_id", sa.Integer(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("quotable", sa.Boolean(), nullable=False),
        sa.Column("coded_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coder_id"], ["user_account.id"], name=op.f("fk_comment_coding_coder_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["response.id"],
            name=op.f("fk_comment_coding_response_id_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "response_id", "question_id", "coder_id", name=op.f("pk_comment_coding")
        ),
    )
    flags = op.create_table(
        "safeguarding_flag",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "actioned", name="flag_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("actioned_by_id", sa.Integer(), nullable=True),
        sa.Column("actioned_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actioned_by_id"],
            ["user_account.id"],
            name=op.f("fk_safeguarding_flag_actioned_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["response.id"],
            name=op.f("fk_safeguarding_flag_response_id_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "question_id", name=op.f("pk_safeguarding_flag")),
    )
    with op.batch_alter_table("safeguarding_flag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safeguarding_flag_status"), ["status"], unique=False)

    _redact_and_flag_existing_comments(flags)


def _text_questions(bind) -> dict[int, set[str]]:
    """Text question ids by instrument version (read from the stored, validated definition)."""
    return {
        vid: {q["id"] for q in (definition or {}).get("questions", []) if q.get("type") == "text"}
        for vid, definition in bind.execute(sa.select(_version.c.id, _version.c.definition))
    }


def _redact_and_flag_existing_comments(flags: sa.Table) -> None:
    # The same definitions folder the app uses (INSTRUMENTS_DIR, else the shipped one).
    settings = load_definitions(current_app.config.get("INSTRUMENTS_DIR")).redaction
    bind = op.get_bind()
    text_ids = _text_questions(bind)
    rows = bind.execute(
        sa.select(
            _answer.c.response_id,
            _answer.c.question_id,
            _answer.c.value,
            _wave.c.instrument_version_id,
        ).select_from(
            _answer.join(_response, _response.c.id == _answer.c.response_id).join(
                _wave, _wave.c.id == _response.c.wave_id
            )
        )
    ).all()
    new_flags = []
    for response_id, question_id, value, version_id in rows:
        if question_id not in text_ids.get(version_id, ()):
            continue
        redacted = redact(value, settings.names)
        if redacted != value:
            bind.execute(
                _answer.update()
                .where(_answer.c.response_id == response_id, _answer.c.question_id == question_id)
                .values(value=redacted)
            )
        signals = flag_safeguarding(redacted, settings.safeguarding)
        if signals:
            new_flags.append(
                {
                    "response_id": response_id,
                    "question_id": question_id,
                    "signals": signals,
                    "status": "open",
                }
            )
    if new_flags:
        bind.execute(flags.insert(), new_flags)


def downgrade():
    # Drops the coding and the flags. The redaction done on upgrade cannot be undone: the
    # original text was never kept.
    with op.batch_alter_table("safeguarding_flag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safeguarding_flag_status"))

    op.drop_table("safeguarding_flag")
    op.drop_table("comment_coding")
