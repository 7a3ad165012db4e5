"""The real process: JSON logs on stdout, clean exit on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from conftest import BACKEND_DIR, fake_secret, free_port


def test_serves_logs_json_and_stops_cleanly_on_sigterm(database_url: str) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DATABASE_URL": database_url,
        "JWT_SECRET": fake_secret(),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "info",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "todo_api"],
        env=env,
        cwd=BACKEND_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "server never became ready"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err == ""
    records = [json.loads(line) for line in out.splitlines()]
    messages = [r["msg"] for r in records]
    assert {"ts", "level", "logger", "msg"} <= set(records[0])
    assert "started" in messages and "schema ready" in messages
    assert any('"GET /ready HTTP/1.1" 200' in m for m in messages)
    assert messages[-2:] == ["Application shutdown complete.", "Finished server process [%d]" % proc.pid]
    assert "stopped" in messages
    assert env["JWT_SECRET"] not in out
