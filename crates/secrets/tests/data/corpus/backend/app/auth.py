from datetime import datetime, timedelta, timezone

import jwt
from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")


def create_access_token(data: dict, secret_key: str, expires_delta: timedelta) -> str:
    to_encode = data.copy()
    to_encode.update({"exp": datetime.now(timezone.utc) + expires_delta})
    return jwt.encode(to_encode, secret_key, algorithm="HS256")


def decode(token: str, secret_key=None):
    key = secret_key or settings.jwt_secret
    return jwt.decode(token, key, algorithms=["HS256"])


def hash_password(password: str) -> str:
    return pwd_context.hash(password)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    refresh_token: str | None = None
