"""``retailflow demo --cockpit``: the demo's store, left open in the cockpit."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_demo_with_cockpit_serves_its_store_and_prints_an_operator_token(tmp_path: Path) -> None:
    port = free_port()
    command = ["demo", "--days", "1", "--orders-per-day", "3", "--db", str(tmp_path / "demo.db")]
    demo = subprocess.Popen(
        [sys.executable, "-m", "retailflow.cli", *command, "--cockpit", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    try:
        printed = ""
        while "Open http" not in printed:
            line = demo.stdout.readline()
            assert line, f"the demo ended before serving the cockpit:\n{printed}"
            printed += line
        token = re.search(r"Cockpit token \(operator 'demo'\): (\S+)", printed)
        assert token, printed
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                if get(f"{base}/login")[0] == 200:
                    break
            except urllib.error.URLError:
                threading.Event().wait(0.05)
        assert get(f"{base}/api/v1/processes")[0] == 401
        status, body = get(f"{base}/api/v1/processes", token[1])
        assert status == 200
        assert "order_fulfilment" in {item["process_id"] for item in json.loads(body)}
        status, page = get(f"{base}/processes/order_fulfilment", token[1])
        assert status == 200 and 'data-state="heat"' in page
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=60)
