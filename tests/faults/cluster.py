"""A throwaway PostgreSQL cluster of a test's own: initdb in a temporary folder, a random
port, run as the ``postgres`` user when the test runs as root; never the machine's shared
server. Its data directory (heap files, WAL) can be read by the test."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loadgen

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class Cluster:
    """A PostgreSQL cluster in a temporary folder, on a free port."""

    def __init__(self, settings: str = "") -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"no initdb in {PG_BIN} (set PG_BIN)")
        self.root = Path(tempfile.mkdtemp(prefix="pulse-faults-"))
        self.data = self.root / "data"
        self.port = loadgen.free_port()
        self.as_postgres = os.geteuid() == 0
        self.settings = settings  # extra ``-c name=value`` server settings
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        command = [str(PG_BIN / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(
            command,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            cwd=self.root,
        )

    def output(self, tool: str, *args: str) -> str:
        """Run one of the cluster's tools (e.g. ``pg_waldump``) and return what it printed
        (its exit status is not checked: pg_waldump reports the end of the WAL as an error)."""
        command = [str(PG_BIN / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=300, cwd=self.root
        ).stdout

    def start(self) -> None:
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            f"-c fsync=on -c max_connections=100 {self.settings}",
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
