"""`make run`'s script prints the address and the logins once, as the last thing, and honours
HOST and PORT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_run_park_prints_the_url_and_logins_once_after_the_server_answers(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PARK_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "HUEY_SQLITE_FILE": str(tmp_path / "huey.sqlite3"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run-park")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Ctrl-C stops both" in line:
                break
        # The server answers by the time the banner shows.
        assert lines and "Ctrl-C stops both" in lines[-1], lines
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = "\n".join(lines)
    assert text.count(f"http://127.0.0.1:{port}/") == 2  # the park and its API docs, once each
    assert text.count("Park booking is running at") == 1
    assert text.count("member   / park-demo") == 1
    # Nothing of the server's start-up chatter follows (or precedes) the banner.
    assert "Starting development server" not in text
