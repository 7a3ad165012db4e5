"""Start-up with a bad environment: one line on stderr naming the problem, non-zero exit."""

import os
import subprocess
import sys

import pytest

from conftest import BACKEND_DIR

GOOD = {"DATABASE_URL": "postgresql://todo@127.0.0.1:1/todo", "JWT_SECRET": "x" * 40}


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET", "LOG_LEVEL", "PORT")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run(
        [sys.executable, "-m", "todo_api"],
        env={**base, **env},
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "todo-api: missing required environment variables: DATABASE_URL, JWT_SECRET (see .env.example)"),
        (
            {"JWT_SECRET": GOOD["JWT_SECRET"]},
            "todo-api: missing required environment variable: DATABASE_URL (see .env.example)",
        ),
        (
            {"DATABASE_URL": GOOD["DATABASE_URL"]},
            "todo-api: missing required environment variable: JWT_SECRET (see .env.example)",
        ),
        (
            {"DATABASE_URL": "  ", "JWT_SECRET": ""},
            "todo-api: missing required environment variables: DATABASE_URL, JWT_SECRET (see .env.example)",
        ),
        (
            {**GOOD, "JWT_SECRET": "short"},
            "todo-api: JWT_SECRET must be at least 32 characters long (it has 5)",
        ),
        (
            {**GOOD, "LOG_LEVEL": "chatty"},
            "todo-api: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'CHATTY')",
        ),
        ({**GOOD, "PORT": "http"}, "todo-api: PORT must be a TCP port number (got 'http')"),
    ],
    ids=["both-missing", "no-database-url", "no-jwt-secret", "blank-values", "short-secret", "bad-log-level", "bad-port"],
)
def test_bad_environment_stops_with_one_line(env: dict[str, str], line: str) -> None:
    result = start(env)
    assert result.returncode == 2
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_secret_value_is_never_printed() -> None:
    result = start({**GOOD, "JWT_SECRET": "s3cr3t-value"})
    assert result.returncode == 2
    assert "s3cr3t-value" not in result.stderr + result.stdout
