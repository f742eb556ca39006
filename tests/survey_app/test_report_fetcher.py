"""A report's PDF reads nothing outside the app's own static files: no request to another
server, no file elsewhere on the machine (``survey_app/reports/fetcher.py``)."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from typing import ClassVar

import pytest

from survey_app.reports.quarterly import Report


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # http.server calls this name
        _Recorder.hits.append(self.path)
        body = b"body::after { content: 'FETCHED-FROM-THE-NETWORK' }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def outside_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_report_pdf_fetches_only_the_apps_static_files(app, tmp_path, outside_server) -> None:
    outside = tmp_path / "outside.css"
    outside.write_text("body::after { content: 'READ-FROM-A-LOCAL-FILE' }")
    static_css = tmp_path / "in-static.css"
    static_css.write_text("h1::after { content: 'STATIC-FILE-READ' }")
    static_folder = tmp_path / "static"
    static_folder.mkdir()
    shutil.copy(static_css, static_folder / "report.css")
    app.static_folder = str(static_folder)
    html = f"""<!doctype html><html lang="en-GB"><head><title>t</title>
      <link rel="stylesheet" href="{outside_server}/evil.css">
      <link rel="stylesheet" href="{outside.as_uri()}">
      <link rel="stylesheet" href="{(static_folder / ".." / "outside.css").as_uri()}">
      <link rel="stylesheet" href="report.css">
      <link rel="stylesheet" href="data:text/css,p::after%7Bcontent:'DATA-URL-READ'%7D">
      </head><body><h1>Report</h1><p>Text</p>
      <img src="{outside_server}/pixel.png" alt="x"></body></html>"""
    with app.app_context():
        pdf = Report("2026-Q3", html).pdf()
    text = _text(pdf, tmp_path)
    assert _Recorder.hits == []  # nothing was asked of the other server
    assert "FETCHED-FROM-THE-NETWORK" not in text and "READ-FROM-A-LOCAL-FILE" not in text
    # the page's own stylesheets do apply, so the two above were refused, not ignored
    assert "STATIC-FILE-READ" in text and "DATA-URL-READ" in text
