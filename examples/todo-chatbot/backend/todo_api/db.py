"""PostgreSQL access: a small connection pool, the schema and the queries."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

logger = logging.getLogger("todo_api.db")

# Any number of replicas may start at once: the advisory lock makes them take turns,
# and IF NOT EXISTS makes every turn after the first a no-op.
SCHEMA_LOCK_ID = 0x70D0
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    task_seq      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tasks (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    number     INTEGER NOT NULL,
    title      TEXT NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, number)
);
"""

TASK_COLUMNS = "number AS id, title, done, created_at"
CONNECT_TIMEOUT_S = 3


def migrate(database_url: str) -> None:
    """Create the schema if it is not there yet."""
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
            conn.execute(SCHEMA)


def ping(database_url: str) -> None:
    """Raise unless the database answers a query right now (a fresh connection)."""
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute("SELECT 1").fetchone()


def open_pool(database_url: str) -> ConnectionPool:
    return ConnectionPool(
        database_url,
        min_size=1,
        max_size=10,
        timeout=5,
        kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
        # Connections die when the database restarts; check before handing one out.
        check=ConnectionPool.check_connection,
        open=False,
        name="todo",
    )


def _task(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    row["created_at"] = row["created_at"].isoformat()
    return row


class Store:
    """The queries the API needs, each scoped to one user."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def create_user(self, username: str, password_hash: str) -> int | None:
        """Return the new user's id, or None when the name is taken."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, %s) "
                "ON CONFLICT (username) DO NOTHING RETURNING id",
                (username, password_hash),
            ).fetchone()
            return None if row is None else int(row["id"])

    def find_user(self, username: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT id, username, password_hash FROM users WHERE username = %s",
                (username,),
            ).fetchone()

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
            )

    def list_tasks(self, user_id: int) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = %s ORDER BY number",
                (user_id,),
            ).fetchall()
            return [_task(r) for r in rows]  # type: ignore[misc]

    def get_task(self, user_id: int, number: int) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            return _task(
                conn.execute(
                    f"SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = %s AND number = %s",
                    (user_id, number),
                ).fetchone()
            )

    def add_task(self, user_id: int, title: str) -> dict[str, Any]:
        with self.pool.connection() as conn, conn.transaction():
            # The row lock on the user serialises numbering; numbers are never reused.
            seq = conn.execute(
                "UPDATE users SET task_seq = task_seq + 1 WHERE id = %s RETURNING task_seq",
                (user_id,),
            ).fetchone()
            if seq is None:
                raise LookupError(f"user {user_id} does not exist")
            row = conn.execute(
                f"INSERT INTO tasks (user_id, number, title) VALUES (%s, %s, %s) "
                f"RETURNING {TASK_COLUMNS}",
                (user_id, seq["task_seq"], title),
            ).fetchone()
            return _task(row)  # type: ignore[return-value]

    def update_task(
        self, user_id: int, number: int, title: str | None = None, done: bool | None = None
    ) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            return _task(
                conn.execute(
                    f"UPDATE tasks SET title = COALESCE(%s, title), done = COALESCE(%s, done) "
                    f"WHERE user_id = %s AND number = %s RETURNING {TASK_COLUMNS}",
                    (title, done, user_id, number),
                ).fetchone()
            )

    def delete_task(self, user_id: int, number: int) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            return _task(
                conn.execute(
                    f"DELETE FROM tasks WHERE user_id = %s AND number = %s "
                    f"RETURNING {TASK_COLUMNS}",
                    (user_id, number),
                ).fetchone()
            )
