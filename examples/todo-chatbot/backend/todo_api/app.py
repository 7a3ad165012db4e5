"""The FastAPI application."""

import logging
import re
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator

import psycopg
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from . import __version__, auth, chat, db, drain
from .config import Settings
from .logs import log

logger = logging.getLogger("todo_api")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
SCHEMA_RETRY_S = 2.0


class Credentials(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=8, max_length=256)


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=chat.MAX_TITLE)


class TaskPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=chat.MAX_TITLE)
    done: bool | None = None


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=2000)


class SchemaKeeper:
    """Creates the schema in the background until it succeeds, so the process starts
    (and reports not-ready) while the database is still coming up."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.done = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="schema", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                db.migrate(self.database_url)
                self.done.set()
                log(logger, logging.INFO, "schema ready")
                return
            except psycopg.Error as e:
                log(logger, logging.WARNING, "database not ready, retrying", error=str(e).strip())
            self.stop.wait(SCHEMA_RETRY_S)


def create_app(settings: Settings) -> FastAPI:
    pool = db.open_pool(settings.database_url)
    store = db.Store(pool)
    keeper = SchemaKeeper(settings.database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        keeper.thread.start()
        log(
            logger,
            logging.INFO,
            "started",
            version=__version__,
            chat_mode="ai" if settings.openai_api_key else "parser",
        )
        yield
        log(logger, logging.INFO, "shutting down")
        keeper.stop.set()
        pool.close(timeout=5)
        log(logger, logging.INFO, "stopped")

    app = FastAPI(title="Todo AI Chatbot API", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.schema = keeper
    app.add_middleware(drain.CloseWhileDraining)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(psycopg.OperationalError)
    async def db_down(_: Request, e: psycopg.OperationalError) -> JSONResponse:
        log(logger, logging.ERROR, "database unavailable", error=str(e).strip())
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.exception_handler(Exception)
    async def internal(_: Request, e: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    def token_claims(authorization: Annotated[str | None, Header()] = None) -> tuple[int, str]:
        scheme, _, token = (authorization or "").partition(" ")
        found = auth.read_token(settings.jwt_secret, token) if scheme.lower() == "bearer" else None
        if found is None:
            raise HTTPException(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return found

    def current_user(claims: Annotated[tuple[int, str], Depends(token_claims)]) -> int:
        return claims[0]

    User = Annotated[int, Depends(current_user)]

    def task_or_404(task: dict[str, Any] | None, number: int) -> dict[str, Any]:
        if task is None:
            raise HTTPException(404, f"task {number} not found")
        return task

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready(response: Response) -> dict[str, str]:
        if not keeper.done.is_set():
            response.status_code = 503
            return {"status": "unavailable", "reason": "schema not created yet"}
        try:
            db.ping(settings.database_url)
        except psycopg.Error:
            response.status_code = 503
            return {"status": "unavailable", "reason": "database does not answer"}
        return {"status": "ok"}

    @app.post("/api/auth/signup", status_code=201)
    def signup(body: Credentials) -> dict[str, Any]:
        if not USERNAME_RE.match(body.username):
            raise HTTPException(422, "username: 3 to 64 letters, digits or _.@-")
        user_id = store.create_user(body.username, auth.hash_password(body.password))
        if user_id is None:
            raise HTTPException(409, "username already taken")
        log(logger, logging.INFO, "user signed up", user_id=user_id)
        token = auth.issue_token(settings.jwt_secret, user_id, body.username, settings.token_ttl_seconds)
        return {"token": token, "user": {"id": user_id, "username": body.username}}

    @app.post("/api/auth/login")
    def login(body: Credentials) -> dict[str, Any]:
        user = store.find_user(body.username)
        stored = user["password_hash"] if user else auth.DUMMY_HASH
        if not auth.verify_password(stored, body.password) or user is None:
            raise HTTPException(401, "invalid username or password")
        if auth.needs_rehash(stored):
            store.set_password_hash(user["id"], auth.hash_password(body.password))
        token = auth.issue_token(settings.jwt_secret, user["id"], user["username"], settings.token_ttl_seconds)
        return {"token": token, "user": {"id": user["id"], "username": user["username"]}}

    @app.get("/api/auth/me")
    def me(claims: Annotated[tuple[int, str], Depends(token_claims)]) -> dict[str, Any]:
        return {"id": claims[0], "username": claims[1]}

    @app.get("/api/tasks")
    def list_tasks(user: User) -> list[dict[str, Any]]:
        return store.list_tasks(user)

    @app.post("/api/tasks", status_code=201)
    def add_task(user: User, body: TaskIn) -> dict[str, Any]:
        title = " ".join(body.title.split())
        if not title:
            raise HTTPException(422, "title must not be blank")
        return store.add_task(user, title)

    @app.get("/api/tasks/{number}")
    def get_task(user: User, number: int) -> dict[str, Any]:
        return task_or_404(store.get_task(user, number), number)

    @app.patch("/api/tasks/{number}")
    def update_task(user: User, number: int, body: TaskPatch) -> dict[str, Any]:
        title = " ".join(body.title.split()) if body.title is not None else None
        if title == "":
            raise HTTPException(422, "title must not be blank")
        return task_or_404(store.update_task(user, number, title=title, done=body.done), number)

    @app.delete("/api/tasks/{number}", status_code=204)
    def delete_task(user: User, number: int) -> Response:
        task_or_404(store.delete_task(user, number), number)
        return Response(status_code=204)

    @app.post("/api/chat")
    def chat_message(user: User, body: ChatIn) -> dict[str, Any]:
        tools = chat.Tools(store, user)
        started = time.monotonic()
        if settings.openai_api_key:
            try:
                reply = chat.run_ai(
                    tools,
                    body.message,
                    api_key=settings.openai_api_key,
                    base_url=settings.openai_base_url,
                    model=settings.openai_model,
                )
            except chat.AIError as e:
                log(logger, logging.ERROR, "chat failed", error=str(e))
                raise HTTPException(502, str(e)) from None
            mode = "ai"
        else:
            reply = chat.run_parser(tools, body.message)
            mode = "parser"
        log(
            logger,
            logging.INFO,
            "chat",
            mode=mode,
            actions=len(tools.actions),
            ms=round((time.monotonic() - started) * 1000),
        )
        return {"reply": reply, "actions": tools.actions, "mode": mode}

    return app
