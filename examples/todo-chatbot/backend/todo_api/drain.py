"""Draining before a stop: the pod's preStop hook runs `python3 -m todo_api drain
SECONDS` while Kubernetes removes the pod from its Service.

The hook sends SIGUSR1 to the server (PID 1 in its container), which from then on
answers every request with `Connection: close`, so keep-alive clients (the
frontend's proxy, load balancers) reconnect to the pods that stay instead of
reusing a connection that SIGTERM will close under them. It keeps serving, then
the hook sleeps SECONDS and returns; Kubernetes then sends SIGTERM, on which
uvicorn stops accepting, finishes in-flight requests and exits.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Awaitable, Callable

draining = threading.Event()

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def on_signal(signum: int, frame: object) -> None:
    draining.set()


def install() -> None:
    """Start draining on SIGUSR1 (called by the server before it serves)."""
    signal.signal(signal.SIGUSR1, on_signal)


def request(seconds: float, server_pid: int = 1) -> None:
    """The preStop hook: tell the server, then wait while the endpoints catch up."""
    try:
        os.kill(server_pid, signal.SIGUSR1)
    except OSError:
        # No server to tell (or not ours): waiting still gives the endpoints time.
        pass
    time.sleep(seconds)


class CloseWhileDraining:
    """ASGI middleware: `Connection: close` on every response once draining."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and draining.is_set():
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)
