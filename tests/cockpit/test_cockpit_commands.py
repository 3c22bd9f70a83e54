"""``retailflow token create`` and ``retailflow cockpit`` as an operator runs them."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from retailflow.cli.app import app
from retailflow.cockpit.auth import hash_token

runner = CliRunner()


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "cockpit.db"
    assert runner.invoke(app, ["db", "upgrade", "--db", str(db)]).exit_code == 0
    return db


def test_token_create_prints_the_secret_once_and_stores_its_hash(tmp_path: Path) -> None:
    db = _store(tmp_path)
    created = runner.invoke(
        app, ["token", "create", "ops-ann", "--role", "operator", "--db", str(db)]
    )
    assert created.exit_code == 0, created.output
    secret = created.output.strip()
    assert secret.startswith("rf_") and len(secret) > 40
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, role, token_hash FROM api_tokens").fetchall()
    assert rows == [("ops-ann", "operator", hash_token(secret))]

    again = runner.invoke(app, ["token", "create", "ops-ann", "--db", str(db)])
    assert again.exit_code == 2 and "exists already" in again.output
    wrong_role = runner.invoke(app, ["token", "create", "bo", "--role", "admin", "--db", str(db)])
    assert wrong_role.exit_code == 2


def test_cockpit_serves_on_localhost_and_asks_for_a_token(tmp_path: Path) -> None:
    db = _store(tmp_path)
    secret = runner.invoke(app, ["token", "create", "ann", "--db", str(db)]).output.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "retailflow.cli", "cockpit", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/v1/processes"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=10)
            except urllib.error.HTTPError as refused:
                assert refused.code == 401
                break
            except urllib.error.URLError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the cockpit did not start listening"
                time.sleep(0.2)
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200 and answer.read() == b"[]"
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_cockpit_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cockpit", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "no SQLite file" in result.output
