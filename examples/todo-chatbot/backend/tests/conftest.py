"""Fixtures: a fresh database per session on the real PostgreSQL, throwaway servers."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from todo_api.app import create_app
from todo_api.config import Settings

BACKEND_DIR = Path(__file__).resolve().parent.parent


def _require(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    message = f"{name} is not set; these tests need a real PostgreSQL 15"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_secret() -> str:
    return "test-only-" + secrets.token_hex(24)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    admin_url = _require("HOIST_TEST_DATABASE_URL")
    name = "todo_test_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin_url, dbname=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wait_ready(client: TestClient, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/ready").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"/ready did not turn 200 within {timeout}s: {client.get('/ready').json()}")


def make_client(database_url: str, **overrides: object) -> TestClient:
    settings = Settings(database_url=database_url, jwt_secret=fake_secret(), **overrides)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


@pytest.fixture(scope="session")
def client(database_url: str) -> Iterator[TestClient]:
    with make_client(database_url) as c:
        wait_ready(c)
        yield c


def signup(client: TestClient, prefix: str = "user", password: str = "correct horse") -> dict[str, str]:
    """Sign a fresh user up; return the Authorization header."""
    username = f"{prefix}_{secrets.token_hex(4)}"
    r = client.post("/api/auth/signup", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


class ThrowawayPostgres:
    """A PostgreSQL server of our own (initdb + pg_ctl) on a free loopback port."""

    def __init__(self, pg_bin: Path) -> None:
        self.pg_bin = pg_bin
        self.root = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        # initdb refuses to run as root; CI runs as root.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            try:
                entry = pwd.getpwnam(self.user)
            except KeyError:
                self.user = "nobody"
                entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.superuser = "todo_admin"
        self._run("initdb", "-D", str(self.data), "-U", self.superuser, "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.pg_bin / tool), *args],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.root,
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres(Path(_require("HOIST_TEST_PG_BIN")))
    try:
        yield pg
    finally:
        pg.destroy()
