"""Baselines for ``benchmarks/serving.py``, served with the same gunicorn settings:

* ``GET /bare``: a bare Flask endpoint, the ceiling for any request;
* ``POST /write``: a bare Flask endpoint inserting one row into the same database in its own
  transaction (same engine options as the app), the ceiling for a durable write.

``gunicorn -c gunicorn.conf.py 'baseline_app:create_app()'`` with ``benchmarks/`` on the path
and ``DATABASE_URL`` set; the table ``bench_write`` must exist (serving.py creates it).
"""

from __future__ import annotations

import os
import secrets

from flask import Flask
from sqlalchemy import create_engine, text

from survey_app.database import configure_engine, engine_options


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"]
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)

    @app.get("/bare")
    def bare():
        return "ok"

    @app.post("/write")
    def write():
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO bench_write (payload) VALUES (:p)"), {"p": secrets.token_hex(16)}
            )
        return "stored", 201

    return app
