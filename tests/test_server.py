"""The production server command that ``make run`` uses."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_command_serves_login(tmp_path):
    environment = {
        **os.environ,
        "FIELDAPP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "FIELDAPP_SECRET_KEY": "test-secret-key-for-the-serve-command",
    }
    flask = [sys.executable, "-m", "flask", "--app", "fieldapp"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=environment, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([*flask, "serve", "--port", str(port), "--threads", "2"], cwd=ROOT,
                              env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
                    status = response.status
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not answer within 30 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _unused = server.communicate(timeout=10)
    assert status == 200
    assert f"127.0.0.1:{port}" in output


def test_serve_command_busy_port(tmp_path):
    environment = {
        **os.environ,
        "FIELDAPP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "FIELDAPP_SECRET_KEY": "test-secret-key-for-the-serve-command",
        "FIELDAPP_BABEL_DEFAULT_LOCALE": "en",
    }
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "flask", "--app", "fieldapp", "serve", "--port", str(port)]
        result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 1
    assert f"FieldApp cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "is running" not in result.stdout
