"""docker-entrypoint.sh on the host's postgresql-15, as a non-root user, with a temporary PGDATA."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

SCRIPT = Path(__file__).resolve().parent.parent / "docker-entrypoint.sh"


def _pg_bin() -> str:
    value = os.environ.get("HOIST_TEST_PG_BIN")
    if value:
        return value
    if os.environ.get("CI") == "true":
        pytest.fail("HOIST_TEST_PG_BIN is not set; these tests need PostgreSQL 15's binaries", pytrace=False)
    pytest.skip("HOIST_TEST_PG_BIN is not set")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Entrypoint:
    def __init__(self, pg_bin: str) -> None:
        self.pg_bin = pg_bin
        self.root = Path(tempfile.mkdtemp(prefix="todo-entrypoint-"))
        self.pgdata = self.root / "pgdata"
        self.port = _free_port()
        self.user = pwd.getpwnam("postgres").pw_name if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "PG_BIN": self.pg_bin,
            "PGDATA": str(self.pgdata),
            "TMPDIR": str(self.root),
            **extra,
        }

    def run(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", str(SCRIPT), *args], env=env, user=self.user, capture_output=True, text=True, timeout=120
        )

    def start(self, env: dict[str, str]) -> None:
        # Tests listen on loopback only; the script itself configures '*'.
        self.proc = subprocess.Popen(
            ["/bin/sh", str(SCRIPT), "postgres", "-c", "listen_addresses=127.0.0.1", "-p", str(self.port), "-c", "fsync=off"],
            env=env,
            user=self.user,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[0]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if (self.pgdata / "postmaster.pid").exists():
                    time.sleep(0.3)
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("postgres did not start")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        self.output += out
        code = self.proc.returncode
        self.proc = None
        return code

    def url(self, user: str, password: str, db: str) -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, user=user, password=password, dbname=db)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def ep() -> Iterator[Entrypoint]:
    e = Entrypoint(_pg_bin())
    try:
        yield e
    finally:
        e.cleanup()


def test_initialises_authenticates_and_keeps_data_across_restarts(ep: Entrypoint) -> None:
    password = "test-" + secrets.token_hex(8)
    env = ep.env(POSTGRES_USER="todo", POSTGRES_PASSWORD=password, POSTGRES_DB="todo db")
    ep.start(env)

    # The signal goes to postgres itself: exec replaced the shell.
    assert ep.proc is not None
    pid_in_file = int((ep.pgdata / "postmaster.pid").read_text().split()[0])
    assert pid_in_file == ep.proc.pid

    with psycopg.connect(ep.url("todo", password, "todo db"), autocommit=True) as conn:
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'todo'").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$")
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")

    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "todo"'):
        psycopg.connect(ep.url("todo", "wrong-password", "todo db")).close()

    conf = (ep.pgdata / "postgresql.conf").read_text()
    assert "\nlisten_addresses = '*'\n" in conf
    hba = [line for line in (ep.pgdata / "pg_hba.conf").read_text().splitlines() if line and not line.startswith("#")]
    assert all(line.split()[-1] == "scram-sha-256" for line in hba if line.startswith("host"))
    assert "host all all 0.0.0.0/0 scram-sha-256" in hba
    assert [line.split()[-1] for line in hba if line.startswith("local")] == ["trust", "trust"]

    assert ep.stop() == 0
    assert "initialised; database todo db ready" in ep.output

    # Restart: a different password in the environment changes nothing; data stays.
    ep.start(ep.env(POSTGRES_USER="todo", POSTGRES_PASSWORD="ignored-now", POSTGRES_DB="todo db"))
    with psycopg.connect(ep.url("todo", password, "todo db")) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
    assert ep.stop() == 0
    assert "holds a database; skipping initialisation" in ep.output


def test_defaults_user_and_db_to_postgres(ep: Entrypoint) -> None:
    password = "test-" + secrets.token_hex(8)
    ep.start(ep.env(POSTGRES_PASSWORD=password))
    with psycopg.connect(ep.url("postgres", password, "postgres")) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("postgres", "postgres")
    assert ep.stop() == 0


def test_missing_password_on_empty_pgdata_is_one_clear_line(ep: Entrypoint) -> None:
    result = ep.run(ep.env(POSTGRES_USER="todo"))
    assert result.returncode == 1
    assert result.stderr == f"docker-entrypoint.sh: POSTGRES_PASSWORD is required to initialise an empty PGDATA ({ep.pgdata})\n"
    assert not (ep.pgdata / "PG_VERSION").exists()


def test_non_empty_pgdata_without_a_database_is_refused(ep: Entrypoint) -> None:
    result = ep.run(ep.env())  # creates PGDATA, then fails on the password
    assert result.returncode == 1
    (ep.pgdata / "lost+found").mkdir()
    if ep.user:
        entry = pwd.getpwnam(ep.user)
        os.chown(ep.pgdata / "lost+found", entry.pw_uid, entry.pw_gid)
    result = ep.run(ep.env(POSTGRES_PASSWORD="x"))
    assert result.returncode == 1
    assert result.stderr == (
        f"docker-entrypoint.sh: PGDATA {ep.pgdata} is not empty but holds no database "
        f"(a volume's lost+found?); set PGDATA to a subdirectory, e.g. {ep.pgdata}/pgdata\n"
    )


def test_other_commands_run_as_given(ep: Entrypoint) -> None:
    result = ep.run(ep.env(), "sh", "-c", "echo hello from $0")
    assert (result.returncode, result.stdout) == (0, "hello from sh\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check the refusal to run as root")
def test_refuses_to_run_as_root(ep: Entrypoint) -> None:
    result = subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=ep.env(POSTGRES_PASSWORD="x"), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    uid = pwd.getpwnam("postgres").pw_uid
    assert result.stderr == (
        f"docker-entrypoint.sh: refusing to run as root; run as the postgres user (uid {uid}) "
        "or any non-root uid that owns PGDATA\n"
    )


def test_in_the_offline_postgres_base(tmp_path: Path) -> None:
    """The image hoist builds: HOIST_BASES_DIR/postgres.tar plus this script, as the
    base's own postgres uid, in a chroot."""
    bases = os.environ.get("HOIST_BASES_DIR")
    tar = Path(bases) / "postgres.tar" if bases else None
    if tar is None or not tar.exists() or os.geteuid() != 0:
        pytest.skip("needs HOIST_BASES_DIR/postgres.tar (cargo xtask bases) and root for chroot")
    root = Path(tempfile.mkdtemp(prefix="todo-pgbase-"))
    proc: subprocess.Popen[str] | None = None
    try:
        subprocess.run(["tar", "--numeric-owner", "-xf", str(tar), "-C", str(root)], check=True)
        shutil.copy(SCRIPT, root / "usr/local/bin/docker-entrypoint.sh")
        (root / "usr/local/bin/docker-entrypoint.sh").chmod(0o755)
        fields = next(
            line.split(":") for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("postgres:")
        )
        uid, gid = int(fields[2]), int(fields[3])
        volume = root / "var/lib/postgresql/data"
        volume.mkdir(parents=True, exist_ok=True)
        os.chown(volume, uid, gid)
        port = _free_port()
        password = "test-" + secrets.token_hex(8)
        env = [
            "PATH=/usr/bin:/bin",
            "POSTGRES_USER=todo",
            f"POSTGRES_PASSWORD={password}",
            "POSTGRES_DB=todo",
            "PGDATA=/var/lib/postgresql/data/pgdata",
        ]
        proc = subprocess.Popen(
            ["chroot", f"--userspec={uid}:{gid}", str(root), "/usr/bin/env", "-i", *env,
             "/usr/local/bin/docker-entrypoint.sh", "-c", "listen_addresses=127.0.0.1", "-p", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 90
        url = make_conninfo(host="127.0.0.1", port=port, user="todo", password=password, dbname="todo")
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                with psycopg.connect(url, connect_timeout=2) as conn:
                    assert conn.execute("SELECT current_user, current_database()").fetchone() == ("todo", "todo")
                    assert conn.execute("SHOW server_version").fetchone()[0].startswith("15.")
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "postgres in the base never accepted the password"
                time.sleep(0.5)
        with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "todo"'):
            psycopg.connect(make_conninfo(url, password="wrong-password")).close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "docker-entrypoint.sh: initialised; database todo ready" in out
        assert (volume / "pgdata/PG_VERSION").read_text().strip() == "15"
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
