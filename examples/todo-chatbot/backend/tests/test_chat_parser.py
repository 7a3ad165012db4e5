"""The deterministic chat parser, used when OPENAI_API_KEY is not set."""

from fastapi.testclient import TestClient

from conftest import signup


def say(client: TestClient, h: dict[str, str], message: str) -> dict:
    r = client.post("/api/chat", json={"message": message}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "parser"
    return r.json()


def titles(client: TestClient, h: dict[str, str]) -> list[tuple[int, str, bool]]:
    return [(t["id"], t["title"], t["done"]) for t in client.get("/api/tasks", headers=h).json()]


def test_every_command(client: TestClient) -> None:
    h = signup(client)
    assert say(client, h, "list")["reply"] == "You have no tasks."

    added = say(client, h, "add buy milk")
    assert added["reply"] == "Added task 1: buy milk"
    assert added["actions"][0]["action"] == "add_task"
    assert say(client, h, "Add: walk the dog")["reply"] == "Added task 2: walk the dog"
    assert say(client, h, "new call mum")["reply"] == "Added task 3: call mum"
    assert titles(client, h) == [(1, "buy milk", False), (2, "walk the dog", False), (3, "call mum", False)]

    assert say(client, h, "done 3")["reply"] == "Completed task 3: call mum"
    assert say(client, h, "complete #1")["reply"] == "Completed task 1: buy milk"
    assert say(client, h, "undo 1")["reply"] == "Reopened task 1: buy milk"
    assert say(client, h, "list")["reply"] == "1. [ ] buy milk\n2. [ ] walk the dog\n3. [x] call mum"
    assert say(client, h, "  LS  ")["reply"].startswith("1. [ ] buy milk")

    assert say(client, h, "delete 2")["reply"] == "Deleted task 2: walk the dog"
    assert say(client, h, "rm 1")["reply"] == "Deleted task 1: buy milk"
    assert titles(client, h) == [(3, "call mum", True)]


def test_unknown_numbers_and_words(client: TestClient) -> None:
    h = signup(client)
    help_text = 'I understand: "add <task>", "list", "done <number>", "undo <number>", "delete <number>" and "help".'
    assert say(client, h, "done 9") == {"reply": "There is no task 9.", "actions": [], "mode": "parser"}
    assert say(client, h, "delete 9")["reply"] == "There is no task 9."
    assert say(client, h, "help")["reply"] == help_text
    nonsense = say(client, h, "make me a sandwich")
    assert nonsense == {"reply": "Sorry, I did not understand that. " + help_text, "actions": [], "mode": "parser"}
    assert say(client, h, "add    ")["actions"] == []
    assert titles(client, h) == []


def test_chat_needs_a_token(client: TestClient) -> None:
    assert client.post("/api/chat", json={"message": "list"}).status_code == 401
