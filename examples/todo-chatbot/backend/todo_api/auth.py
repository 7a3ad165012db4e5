"""Password hashing (argon2id) and JWTs (HS256)."""

from __future__ import annotations

import threading
import time

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
ALGORITHM = "HS256"
ISSUER = "todo-chatbot"

# Each argon2 hash takes the hasher's memory_cost (64 MiB by default) while it
# runs, and the request threads (up to 40) would run as many at once: under a
# burst of logins that is gigabytes and the container is OOM-killed. Two at a
# time bound it to 128 MiB; the other logins wait their turn.
HASH_CONCURRENCY = 2
_hash_slots = threading.BoundedSemaphore(HASH_CONCURRENCY)


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _hash_slots:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A valid hash to verify against when the user does not exist, so that an unknown
# name and a wrong password take the same time.
DUMMY_HASH = _hasher.hash("not-a-real-password")


def issue_token(secret: str, user_id: int, username: str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "name": username, "iat": now, "exp": now + ttl_seconds, "iss": ISSUER}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> tuple[int, str] | None:
    """The (user id, username) a valid token names, or None."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"]), str(claims.get("name", ""))
    except (jwt.PyJWTError, ValueError):
        return None
