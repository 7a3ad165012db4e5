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


def start_server(database_url: str) -> tuple[subprocess.Popen[str], int, dict[str, str]]:
    """`python3 -m todo_api` on a free port, once ready: the process, its port and environment."""
    port = free_port()
    env = server_env(database_url, port, os.pathsep.join(p for p in sys.path if p))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "todo_api"], env=env, cwd=BACKEND_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_ready(proc, port)
    return proc, port, env


def test_serves_logs_json_and_stops_cleanly_on_sigterm(database_url: str) -> None:
    proc, port, env = start_server(database_url)
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


def test_drain_closes_keep_alive_connections_and_keeps_serving(database_url: str) -> None:
    import http.client

    proc, port, env = start_server(database_url)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/health")
        first = conn.getresponse()
        first.read()
        assert first.getheader("connection") is None, first.getheaders()

        # What the preStop hook does, aimed at this server instead of PID 1.
        drain = subprocess.run(
            [sys.executable, "-c", f"from todo_api import drain; drain.request(0, {proc.pid})"],
            env=env, cwd=BACKEND_DIR, capture_output=True, text=True, timeout=30,
        )
        assert drain.returncode == 0, drain.stderr
        deadline = time.monotonic() + 10
        while True:
            conn.request("GET", "/health")
            reply = conn.getresponse()
            reply.read()
            assert reply.status == 200
            if reply.getheader("connection") == "close":
                break
            assert time.monotonic() < deadline, "never answered Connection: close"
        # The server closed that connection; new ones are still served while draining.
        assert reply.will_close
        for _ in range(3):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                assert r.status == 200
                assert r.headers["connection"] == "close"
    finally:
        out, err = stop(proc)
    assert proc.returncode == 0, err
    assert err == ""


def test_drain_refuses_a_bad_number_of_seconds() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "todo_api", "drain", "soon"], cwd=BACKEND_DIR, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "todo-api: drain: 'soon' is not a number of seconds; usage: python3 -m todo_api [serve|migrate|drain SECONDS]\n"
    )
