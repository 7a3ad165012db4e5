"""Task CRUD per user, and isolation between users."""

from fastapi.testclient import TestClient

from conftest import signup


def test_crud(client: TestClient) -> None:
    h = signup(client)
    assert client.get("/api/tasks", headers=h).json() == []
    a = client.post("/api/tasks", json={"title": "  buy   milk "}, headers=h)
    assert a.status_code == 201
    assert (a.json()["id"], a.json()["title"], a.json()["done"]) == (1, "buy milk", False)
    b = client.post("/api/tasks", json={"title": "walk the dog"}, headers=h).json()
    assert b["id"] == 2
    assert client.get("/api/tasks/2", headers=h).json()["title"] == "walk the dog"

    patched = client.patch("/api/tasks/1", json={"done": True}, headers=h)
    assert patched.status_code == 200
    assert patched.json()["done"] is True and patched.json()["title"] == "buy milk"
    renamed = client.patch("/api/tasks/1", json={"title": "buy oat milk"}, headers=h).json()
    assert renamed == {**patched.json(), "title": "buy oat milk"}

    assert client.delete("/api/tasks/2", headers=h).status_code == 204
    assert client.delete("/api/tasks/2", headers=h).status_code == 404
    assert client.get("/api/tasks/2", headers=h).json() == {"detail": "task 2 not found"}
    listed = client.get("/api/tasks", headers=h).json()
    assert [(t["id"], t["title"], t["done"]) for t in listed] == [(1, "buy oat milk", True)]
    # Numbers are never reused after a delete.
    assert client.post("/api/tasks", json={"title": "third"}, headers=h).json()["id"] == 3


def test_invalid_titles_are_rejected(client: TestClient) -> None:
    h = signup(client)
    assert client.post("/api/tasks", json={"title": ""}, headers=h).status_code == 422
    assert client.post("/api/tasks", json={"title": "   "}, headers=h).json() == {"detail": "title must not be blank"}
    assert client.post("/api/tasks", json={"title": "x" * 501}, headers=h).status_code == 422
    assert client.get("/api/tasks", headers=h).json() == []


def test_users_see_and_touch_only_their_own_tasks(client: TestClient) -> None:
    alice, bob = signup(client, "alice"), signup(client, "bob")
    client.post("/api/tasks", json={"title": "alice's secret plan"}, headers=alice)
    assert client.get("/api/tasks", headers=bob).json() == []
    assert client.get("/api/tasks/1", headers=bob).status_code == 404
    assert client.patch("/api/tasks/1", json={"done": True}, headers=bob).status_code == 404
    assert client.delete("/api/tasks/1", headers=bob).status_code == 404
    # Bob's numbering is his own.
    assert client.post("/api/tasks", json={"title": "bob's"}, headers=bob).json()["id"] == 1
    alices = client.get("/api/tasks", headers=alice).json()
    assert [(t["title"], t["done"]) for t in alices] == [("alice's secret plan", False)]


def test_health_needs_no_database(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ok"}
