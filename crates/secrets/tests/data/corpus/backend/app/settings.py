"""Application settings, read from the environment."""

import os
import secrets

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(..., description="postgresql+psycopg://user:password@host/db")
    openai_api_key: str = Field(..., alias="OPENAI_API_KEY")
    jwt_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    jwt_algorithm: str = "HS256"
    access_token_expire_minutes: int = 30
    secret_key: str = os.environ.get("SECRET_KEY", "")
    password_min_length: int = 12
    token_url: str = "/api/auth/token"


SECRET_KEY = os.environ["SECRET_KEY"]
API_KEY = settings_from_vault("api-key")
password = request.form["password"]
token = create_access_token(data={"sub": user.email}, expires_delta=timedelta(minutes=30))
headers = {"Authorization": f"Bearer {token}", "X-Api-Key": api_key}
if not verify_password(form.password, user.hashed_password):
    raise HTTPException(status_code=401, detail="Incorrect username or password")
