"""The real process: JSON logs on stdout, clean exit on SIGTERM, unprivileged on a
read-only root filesystem."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request

import pytest

from conftest import BACKEND_DIR, fake_secret, free_port


def wait_ready(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "server never became ready"
        time.sleep(0.2)


def post(port: int, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def server_env(database_url: str, port: int, pythonpath: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": pythonpath,
        "DATABASE_URL": database_url,
        "JWT_SECRET": fake_secret(),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "info",
    }


def test_serves_logs_json_and_stops_cleanly_on_sigterm(database_url: str) -> None:
    port = free_port()
    env = server_env(database_url, port, os.pathsep.join(p for p in sys.path if p))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "todo_api"], env=env, cwd=BACKEND_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_ready(proc, port)
    out, err = stop(proc)
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


# Inside a private mount namespace: the whole tree read-only, a fresh tmpfs on /tmp
# (the one writable path an image gets), then the system python3 as nobody.
READ_ONLY_ROOT = """
set -e
mount --make-rprivate /
mount --bind / /
mount -o remount,bind,ro /
# The checkout may itself live under /tmp (CI clones there): keep the original
# /tmp visible, read-only, at /mnt before hiding it behind the fresh tmpfs.
mount --bind /tmp /mnt
mount -o remount,bind,ro /mnt
mount -t tmpfs tmpfs /tmp
if touch /.todo-write-probe 2>/dev/null; then echo "root is writable" >&2; exit 9; fi
cd /
exec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -m todo_api
"""


def test_runs_as_nobody_on_a_read_only_root_with_system_python(database_url: str) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not os.path.exists("/usr/bin/python3"):
        message = "needs root, unshare and /usr/bin/python3 to build a read-only root"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    port = free_port()
    # The test venv's packages stand in for the image's `pip install --target` dir.
    paths = [sysconfig.get_paths()["purelib"], str(BACKEND_DIR)]
    pythonpath = os.pathsep.join("/mnt" + p[len("/tmp"):] if p.startswith("/tmp/") else p for p in paths)
    proc = subprocess.Popen(
        ["unshare", "--mount", "sh", "-c", READ_ONLY_ROOT],
        env=server_env(database_url, port, pythonpath),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_ready(proc, port)
    token = post(port, "/api/auth/signup", {"username": "readonly_user", "password": "long enough pw"})["token"]
    reply = post(port, "/api/chat", {"message": "add works read-only"}, token)
    assert reply["reply"] == "Added task 1: works read-only"
    out, err = stop(proc)
    assert proc.returncode == 0, err
    assert err == ""
    messages = [json.loads(line)["msg"] for line in out.splitlines()]
    assert "stopped" in messages
