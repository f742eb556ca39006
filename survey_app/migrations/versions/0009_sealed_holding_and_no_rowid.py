"""sealed held submissions, invitation tags, tables without rowid

Revision ID: 0009
Revises: 0008

* ``held_submission`` keeps no answer in clear: its ``payload`` (JSON) and ``held_on``
  become ``sealed``, the submission encrypted with AES-256-GCM under a key derived from
  ``SECRET_KEY`` (``survey_app/crypto.py``, purpose ``held-submission``). Rows held when
  this runs are sealed in place (their invitations were already marked used).
* ``invite_tag``: ``HMAC(SECRET_KEY, token)`` of every used personal link, its primary
  key allowing one submission per token.
* SQLite: ``response``, ``answer``, ``held_submission``, ``invite_tag`` and
  ``submission_key`` become ``WITHOUT ROWID`` tables, so no hidden ``rowid`` counts up in
  insertion order (rows are kept in the order of their random keys). SQLite cannot alter
  that in place: each table is rebuilt with foreign keys switched off for the rebuild
  (otherwise dropping ``response`` would cascade to its answers), then checked with
  ``PRAGMA foreign_key_check``.

Downgrade opens the sealed rows back into ``payload``/``held_on`` (marking their
invitations used, as the earlier schema did on holding), drops ``invite_tag`` and gives
the tables their ``rowid`` back.
"""

import datetime as dt
import json
import secrets

import sqlalchemy as sa
from alembic import op
from flask import current_app

from survey_app.crypto import derive_key, seal, unseal

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_HELD_PURPOSE = "held-submission"  # as survey_app/ingestion/holding.py
_REBUILT = ("response", "answer", "submission_key")


def _key() -> bytes:
    return derive_key(current_app.config["SECRET_KEY"], _HELD_PURPOSE)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _foreign_keys(on: bool) -> None:
    """SQLite only changes ``foreign_keys`` outside a transaction: end the migration's
    transaction (every earlier revision is complete), switch, and begin again."""
    bind = op.get_bind()
    if on:
        problems = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        if problems:
            raise RuntimeError(f"foreign keys broken by the rebuild: {problems[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def _rebuild(table: str, with_rowid: bool) -> None:
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ):
        pass


def _create_held(sealed: bool) -> None:
    columns: list[sa.Column] = [
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
    ]
    if sealed:
        columns.append(sa.Column("sealed", sa.LargeBinary(), nullable=False))
    else:
        columns += [
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.Column("held_on", sa.Date(), nullable=False),
        ]
    op.create_table(
        "held_submission",
        *columns,
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["wave.id"],
            name=op.f("fk_held_submission_wave_id_wave"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_submission")),
        sqlite_with_rowid=not sealed,
    )
    op.create_index(
        op.f("ix_held_submission_wave_id"), "held_submission", ["wave_id"], unique=False
    )


def _drop_held() -> None:
    op.drop_index(op.f("ix_held_submission_wave_id"), table_name="held_submission")
    op.drop_table("held_submission")


def upgrade():
    bind = op.get_bind()
    if _is_sqlite():
        _foreign_keys(False)
    old = sa.table(
        "held_submission",
        sa.column("id", sa.String),
        sa.column("wave_id", sa.Integer),
        sa.column("payload", sa.JSON),
        sa.column("held_on", sa.Date),
    )
    held = bind.execute(sa.select(old.c.id, old.c.wave_id, old.c.payload, old.c.held_on)).all()
    _drop_held()
    _create_held(sealed=True)
    key = _key()
    rows = []
    for _, wave_id, payload, held_on in held:
        new_id = secrets.token_hex(16)
        plain = {
            "q": payload.get("answers", {}),
            "a": payload.get("attributes", {}),
            "d": held_on.isoformat(),
            "e": None,
            "c": "web",
            "i": None,
        }
        rows.append(
            {
                "id": new_id,
                "wave_id": wave_id,
                "sealed": seal(
                    key, json.dumps(plain, separators=(",", ":")).encode(), new_id.encode("ascii")
                ),
            }
        )
    if rows:
        new = sa.table(
            "held_submission",
            sa.column("id", sa.String),
            sa.column("wave_id", sa.Integer),
            sa.column("sealed", sa.LargeBinary),
        )
        bind.execute(sa.insert(new), rows)

    op.create_table(
        "invite_tag",
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["wave.id"], name=op.f("fk_invite_tag_wave_id_wave"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_invite_tag")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_invite_tag_wave_id"), "invite_tag", ["wave_id"], unique=False)

    if _is_sqlite():
        for table in _REBUILT:
            _rebuild(table, with_rowid=False)
        _foreign_keys(True)


def downgrade():
    bind = op.get_bind()
    if _is_sqlite():
        _foreign_keys(False)
    new = sa.table(
        "held_submission",
        sa.column("id", sa.String),
        sa.column("wave_id", sa.Integer),
        sa.column("sealed", sa.LargeBinary),
    )
    key = _key()
    opened = []
    for row_id, wave_id, sealed in bind.execute(sa.select(new.c.id, new.c.wave_id, new.c.sealed)):
        plain = json.loads(unseal(key, sealed, row_id.encode("ascii")))
        opened.append((row_id, wave_id, plain))
    _drop_held()
    _create_held(sealed=False)
    old = sa.table(
        "held_submission",
        sa.column("id", sa.String),
        sa.column("wave_id", sa.Integer),
        sa.column("payload", sa.JSON),
        sa.column("held_on", sa.Date),
    )
    if opened:
        bind.execute(
            sa.insert(old),
            [
                {
                    "id": row_id,
                    "wave_id": wave_id,
                    "held_on": dt.date.fromisoformat(plain["d"]),
                    "payload": {"answers": plain["q"], "attributes": plain["a"]},
                }
                for row_id, wave_id, plain in opened
            ],
        )
    invitations = [plain["i"] for _, _, plain in opened if plain.get("i") is not None]
    if invitations:  # the earlier schema marked an invitation used when it held its answers
        invitation = sa.table(
            "invitation", sa.column("id", sa.Integer), sa.column("used", sa.Boolean)
        )
        bind.execute(
            sa.update(invitation).where(invitation.c.id.in_(invitations)).values(used=True)
        )
    op.drop_index(op.f("ix_invite_tag_wave_id"), table_name="invite_tag")
    op.drop_table("invite_tag")
    if _is_sqlite():
        for table in _REBUILT:
            _rebuild(table, with_rowid=True)
        _foreign_keys(True)
