"""The AI path, against a small OpenAI-compatible stand-in server on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from conftest import make_client, signup, wait_ready


class StandIn:
    """Answers POST /v1/chat/completions with scripted responses; records requests."""

    def __init__(self, script: list[tuple[int, dict[str, Any]]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers["Content-Length"])
                stand_in.requests.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, body = stand_in.script.pop(0)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def stand_in(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    server = StandIn(request.param)
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def tool_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def completion(message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {"id": "cmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": message}]}


SCRIPT = [
    completion(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                tool_call("call_a", "add_task", {"title": "buy milk"}),
                tool_call("call_b", "add_task", {"title": "walk the dog"}),
            ],
        }
    ),
    completion({"role": "assistant", "content": None, "tool_calls": [tool_call("call_c", "complete_task", {"task_id": 1})]}),
    completion({"role": "assistant", "content": "Added two tasks and ticked off the milk."}),
]


@pytest.mark.parametrize("stand_in", [SCRIPT], indirect=True)
def test_tool_calls_change_tasks_and_requests_are_well_formed(stand_in: StandIn, database_url: str) -> None:
    key = "fake-" + secrets.token_hex(8)
    with make_client(
        database_url, openai_api_key=key, openai_base_url=stand_in.base_url, openai_model="stand-in-model"
    ) as client:
        wait_ready(client)
        h = signup(client, "ai")
        r = client.post("/api/chat", json={"message": "I need milk and to walk the dog; milk is done"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["mode"] == "ai"
        assert r.json()["reply"] == "Added two tasks and ticked off the milk."
        assert [a["action"] for a in r.json()["actions"]] == ["add_task", "add_task", "complete_task"]
        tasks = client.get("/api/tasks", headers=h).json()
        assert [(t["id"], t["title"], t["done"]) for t in tasks] == [(1, "buy milk", True), (2, "walk the dog", False)]

    assert len(stand_in.requests) == 3
    first = stand_in.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["authorization"] == f"Bearer {key}"
    body = first["body"]
    assert body["model"] == "stand-in-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == "I need milk and to walk the dog; milk is done"
    assert [t["function"]["name"] for t in body["tools"]] == ["add_task", "list_tasks", "complete_task", "delete_task"]
    assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in body["tools"])

    second = stand_in.requests[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in second[2]["tool_calls"]] == ["call_a", "call_b"]
    assert [(m["tool_call_id"], m["content"]) for m in second[3:]] == [
        ("call_a", "Added task 1: buy milk"),
        ("call_b", "Added task 2: walk the dog"),
    ]
    third = stand_in.requests[2]["body"]["messages"]
    assert third[-1] == {"role": "tool", "tool_call_id": "call_c", "content": "Completed task 1: buy milk"}


@pytest.mark.parametrize("stand_in", [[(401, {"error": {"message": "bad key"}})]], indirect=True)
def test_provider_error_is_a_502_without_the_key(stand_in: StandIn, database_url: str) -> None:
    key = "fake-" + secrets.token_hex(8)
    with make_client(database_url, openai_api_key=key, openai_base_url=stand_in.base_url) as client:
        wait_ready(client)
        h = signup(client, "ai")
        r = client.post("/api/chat", json={"message": "add milk"}, headers=h)
        assert r.status_code == 502
        assert r.json() == {"detail": "AI provider answered HTTP 401"}
        assert key not in r.text
        assert client.get("/api/tasks", headers=h).json() == []
    assert stand_in.requests[0]["body"]["model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    "stand_in",
    [[completion({"role": "assistant", "tool_calls": [tool_call("x", "delete_task", {"task_id": "nope"})]}),
      completion({"role": "assistant", "content": "Sorry."})]],
    indirect=True,
)
def test_bad_tool_arguments_are_reported_back_to_the_model(stand_in: StandIn, database_url: str) -> None:
    with make_client(database_url, openai_api_key="fake-key", openai_base_url=stand_in.base_url) as client:
        wait_ready(client)
        h = signup(client, "ai")
        r = client.post("/api/chat", json={"message": "delete the thing"}, headers=h)
        assert r.json()["reply"] == "Sorry."
    tool_msg = stand_in.requests[1]["body"]["messages"][-1]
    assert tool_msg["role"] == "tool"
    assert tool_msg["content"].startswith("Invalid arguments for delete_task: invalid literal for int()")
