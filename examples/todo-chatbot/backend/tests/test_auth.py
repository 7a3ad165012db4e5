"""Sign-up and login against the real database."""

import secrets

import jwt
import psycopg
from fastapi.testclient import TestClient

from conftest import signup


def creds(prefix: str = "alice") -> dict[str, str]:
    return {"username": f"{prefix}_{secrets.token_hex(4)}", "password": "long enough pw"}


def test_signup_then_login_gives_working_tokens(client: TestClient) -> None:
    c = creds()
    r = client.post("/api/auth/signup", json=c)
    assert r.status_code == 201
    body = r.json()
    assert body["user"]["username"] == c["username"]
    r = client.post("/api/auth/login", json=c)
    assert r.status_code == 200
    token = r.json()["token"]
    assert r.json()["user"] == body["user"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == body["user"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == str(body["user"]["id"])
    assert claims["exp"] > claims["iat"]


def test_wrong_password_and_unknown_user_are_refused_alike(client: TestClient) -> None:
    c = creds()
    assert client.post("/api/auth/signup", json=c).status_code == 201
    wrong = client.post("/api/auth/login", json={**c, "password": "not the password"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "invalid username or password"}
    unknown = client.post("/api/auth/login", json={**creds("nobody"), "password": "whatever123"})
    assert unknown.status_code == 401
    assert unknown.json() == {"detail": "invalid username or password"}


def test_duplicate_username_is_a_conflict(client: TestClient) -> None:
    c = creds()
    assert client.post("/api/auth/signup", json=c).status_code == 201
    again = client.post("/api/auth/signup", json={**c, "password": "another password"})
    assert again.status_code == 409
    assert again.json() == {"detail": "username already taken"}


def test_short_password_and_bad_username_are_rejected(client: TestClient) -> None:
    assert client.post("/api/auth/signup", json={"username": "carol_x", "password": "short"}).status_code == 422
    bad = client.post("/api/auth/signup", json={"username": "has space", "password": "long enough pw"})
    assert bad.status_code == 422
    assert bad.json() == {"detail": "username: 3 to 64 letters, digits or _.@-"}


def test_password_is_stored_as_an_argon2id_hash(client: TestClient, database_url: str) -> None:
    c = creds()
    client.post("/api/auth/signup", json=c)
    with psycopg.connect(database_url) as conn:
        (stored,) = conn.execute(
            "SELECT password_hash FROM users WHERE username = %s", (c["username"],)
        ).fetchone()
    assert stored.startswith("$argon2id$")
    assert c["password"] not in stored


def test_tokens_signed_with_another_secret_or_expired_are_refused(client: TestClient) -> None:
    headers = signup(client)
    good = headers["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-of-sufficient-length!", algorithm="HS256")
    expired = jwt.encode({**claims, "exp": 1}, "expired-token-secret-of-enough-length", algorithm="HS256")
    for token in (forged, expired, "garbage", ""):
        r = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.json() == {"detail": "missing or invalid bearer token"}
    assert client.get("/api/tasks").status_code == 401
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.get("/api/tasks", headers=headers).status_code == 200


def test_at_most_two_password_hashes_run_at_once(monkeypatch) -> None:
    # Each argon2 hash holds 64 MiB while it runs: a burst of logins on the
    # request threads must queue, not multiply that (the container was
    # OOM-killed under 20 users' logins before).
    import threading
    import time

    from todo_api import auth

    running = 0
    peak = 0
    lock = threading.Lock()

    class CountingHasher:
        def _run(self) -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

        def hash(self, password: str) -> str:
            self._run()
            return "hash"

        def verify(self, password_hash: str, password: str) -> bool:
            self._run()
            return True

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    calls = [lambda: auth.hash_password("pw"), lambda: auth.verify_password("h", "pw")] * 8
    threads = [threading.Thread(target=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == auth.HASH_CONCURRENCY == 2
