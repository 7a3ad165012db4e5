"""Password hashing (argon2id) and JWTs (HS256)."""

from __future__ import annotations

import time

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
ALGORITHM = "HS256"
ISSUER = "todo-chatbot"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
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
