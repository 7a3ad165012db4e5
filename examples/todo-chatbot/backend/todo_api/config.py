"""Configuration, read from the environment only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

REQUIRED = ("DATABASE_URL", "JWT_SECRET")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# HS256 keys shorter than the hash output are brute-forceable (RFC 7518 3.2).
MIN_JWT_SECRET_LEN = 32


class ConfigError(Exception):
    """The environment cannot start the service; the message is one line."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    jwt_secret: str = field(repr=False)
    log_level: str = "INFO"
    allowed_origins: tuple[str, ...] = ()
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_model: str = DEFAULT_OPENAI_MODEL
    host: str = "0.0.0.0"
    port: int = 8000
    token_ttl_seconds: int = 12 * 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        missing = [name for name in REQUIRED if get(name) is None]
        if missing:
            raise ConfigError(
                "missing required environment variable"
                + ("s" if len(missing) > 1 else "")
                + ": "
                + ", ".join(missing)
                + " (see .env.example)"
            )
        jwt_secret = get("JWT_SECRET") or ""
        if len(jwt_secret) < MIN_JWT_SECRET_LEN:
            raise ConfigError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_LEN} characters long "
                f"(it has {len(jwt_secret)})"
            )
        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {log_level!r})"
            )
        port_text = get("PORT") or "8000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PORT must be a TCP port number (got {port_text!r})")
        origins = tuple(
            o.strip() for o in (get("ALLOWED_ORIGINS") or "").split(",") if o.strip()
        )
        return cls(
            database_url=get("DATABASE_URL") or "",
            jwt_secret=jwt_secret,
            log_level=log_level,
            allowed_origins=origins,
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=(get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL).rstrip("/"),
            openai_model=get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL,
            host=get("HOST") or "0.0.0.0",
            port=int(port_text),
        )
