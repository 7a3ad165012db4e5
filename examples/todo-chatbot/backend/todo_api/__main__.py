"""`python3 -m todo_api` serves the API; `python3 -m todo_api migrate` creates the schema;
`python3 -m todo_api drain SECONDS` is the pod's preStop hook (see `drain`)."""

from __future__ import annotations

import logging
import signal
import sys

from .config import ConfigError, Settings

USAGE = "usage: python3 -m todo_api [serve|migrate|drain SECONDS]"


def _after_graceful_stop(signum: int, frame: object) -> None:
    """Runs only once uvicorn has finished its own shutdown."""


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    if command == "drain" and len(argv) == 2:
        from . import drain

        try:
            seconds = float(argv[1])
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            print(f"todo-api: drain: {argv[1]!r} is not a number of seconds; {USAGE}", file=sys.stderr)
            return 2
        drain.request(seconds)
        return 0
    if command not in ("serve", "migrate") or len(argv) > 1:
        print(f"todo-api: {USAGE}", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"todo-api: {e}", file=sys.stderr)
        return 2

    from . import logs

    logs.setup(settings.log_level)
    if command == "migrate":
        import psycopg

        from . import db

        try:
            db.migrate(settings.database_url)
        except psycopg.Error as e:
            logs.log(logging.getLogger("todo_api"), logging.ERROR, "migration failed", error=str(e).strip())
            return 1
        logs.log(logging.getLogger("todo_api"), logging.INFO, "schema ready")
        return 0

    import uvicorn

    from . import drain
    from .app import create_app

    # uvicorn handles SIGTERM and SIGINT itself: it stops accepting connections,
    # lets in-flight requests finish and runs the lifespan shutdown. Afterwards it
    # re-raises the signal to the handler that was there before; a no-op handler
    # makes a graceful stop exit 0 instead of dying by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_stop)
    drain.install()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=True,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=20,
        # Longer than the idle timeout of any client in front (the frontend's
        # fetch closes idle connections after 4 s), so an idle keep-alive
        # connection is always closed by the client, never by this server
        # while a request is on its way.
        timeout_keep_alive=65,
    )
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
