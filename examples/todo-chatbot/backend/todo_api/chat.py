"""Chat that acts on tasks: the tool set, the deterministic parser and the AI path."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .db import Store
from .logs import log

logger = logging.getLogger("todo_api.chat")
MAX_TITLE = 500
AI_TIMEOUT_S = 30
AI_MAX_ROUNDS = 5

HELP = (
    'I understand: "add <task>", "list", "done <number>", "undo <number>", '
    '"delete <number>" and "help".'
)


class AIError(Exception):
    """The AI provider failed; the message never contains the key."""


@dataclass
class Tools:
    """The task actions a chat message may take, for one user."""

    store: Store
    user_id: int
    actions: list[dict[str, Any]] = field(default_factory=list)

    def add_task(self, title: str) -> str:
        title = " ".join(str(title).split())[:MAX_TITLE]
        if not title:
            return "A task needs a title."
        task = self.store.add_task(self.user_id, title)
        self.actions.append({"action": "add_task", "task": task})
        return f'Added task {task["id"]}: {task["title"]}'

    def list_tasks(self) -> str:
        tasks = self.store.list_tasks(self.user_id)
        self.actions.append({"action": "list_tasks", "count": len(tasks)})
        if not tasks:
            return "You have no tasks."
        return "\n".join(
            f'{t["id"]}. [{"x" if t["done"] else " "}] {t["title"]}' for t in tasks
        )

    def complete_task(self, task_id: int, done: bool = True) -> str:
        task = self.store.update_task(self.user_id, int(task_id), done=done)
        if task is None:
            return f"There is no task {task_id}."
        self.actions.append({"action": "complete_task" if done else "reopen_task", "task": task})
        return f'{"Completed" if done else "Reopened"} task {task["id"]}: {task["title"]}'

    def delete_task(self, task_id: int) -> str:
        task = self.store.delete_task(self.user_id, int(task_id))
        if task is None:
            return f"There is no task {task_id}."
        self.actions.append({"action": "delete_task", "task": task})
        return f'Deleted task {task["id"]}: {task["title"]}'


_COMMANDS = [
    (re.compile(r"^(?:add|new|create)\s*:?\s+(?P<title>.+)$", re.I | re.S), "add"),
    (re.compile(r"^(?:list|ls|show)(?:\s+(?:my\s+)?tasks)?$", re.I), "list"),
    (re.compile(r"^(?:done|complete|finish|check)\s+#?(?P<id>\d+)$", re.I), "done"),
    (re.compile(r"^(?:undo|undone|reopen|uncheck)\s+#?(?P<id>\d+)$", re.I), "undo"),
    (re.compile(r"^(?:delete|remove|rm|del)\s+#?(?P<id>\d+)$", re.I), "delete"),
    (re.compile(r"^(?:help|\?)$", re.I), "help"),
]


def run_parser(tools: Tools, message: str) -> str:
    text = message.strip()
    for pattern, command in _COMMANDS:
        m = pattern.match(text)
        if not m:
            continue
        if command == "add":
            return tools.add_task(m["title"])
        if command == "list":
            return tools.list_tasks()
        if command == "done":
            return tools.complete_task(int(m["id"]))
        if command == "undo":
            return tools.complete_task(int(m["id"]), done=False)
        if command == "delete":
            return tools.delete_task(int(m["id"]))
        return HELP
    return "Sorry, I did not understand that. " + HELP


TOOL_SPECS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "add_task",
            "description": "Add a task to the user's todo list.",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string", "description": "What to do."}},
                "required": ["title"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_tasks",
            "description": "List the user's tasks with their numbers and whether they are done.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "complete_task",
            "description": "Mark the task with this number as done.",
            "parameters": {
                "type": "object",
                "properties": {"task_id": {"type": "integer"}},
                "required": ["task_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "delete_task",
            "description": "Delete the task with this number.",
            "parameters": {
                "type": "object",
                "properties": {"task_id": {"type": "integer"}},
                "required": ["task_id"],
            },
        },
    },
]

SYSTEM_PROMPT = (
    "You are the assistant of a todo list app. Use the tools to add, list, complete "
    "and delete the user's tasks; tasks are identified by their number. Answer briefly."
)


def _call_tool(tools: Tools, name: str, arguments: str) -> str:
    try:
        args = json.loads(arguments or "{}")
        if not isinstance(args, dict):
            raise ValueError("arguments are not an object")
        if name == "add_task":
            return tools.add_task(str(args["title"]))
        if name == "list_tasks":
            return tools.list_tasks()
        if name == "complete_task":
            return tools.complete_task(int(args["task_id"]))
        if name == "delete_task":
            return tools.delete_task(int(args["task_id"]))
    except (KeyError, TypeError, ValueError) as e:
        return f"Invalid arguments for {name}: {e}"
    return f"Unknown tool {name}."


def _post(url: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=AI_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise AIError(f"AI provider answered HTTP {e.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise AIError(f"AI provider unreachable: {reason}") from None
    except json.JSONDecodeError:
        raise AIError("AI provider answered with something that is not JSON") from None


def run_ai(
    tools: Tools, message: str, *, api_key: str, base_url: str, model: str
) -> str:
    url = f"{base_url}/chat/completions"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": message},
    ]
    for _ in range(AI_MAX_ROUNDS):
        data = _post(url, api_key, {"model": model, "messages": messages, "tools": TOOL_SPECS})
        try:
            reply = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise AIError("AI provider answered without choices[0].message") from None
        calls = reply.get("tool_calls") or []
        if not calls:
            return str(reply.get("content") or "")
        messages.append(
            {"role": "assistant", "content": reply.get("content"), "tool_calls": calls}
        )
        for call in calls:
            fn = call.get("function") or {}
            result = _call_tool(tools, str(fn.get("name")), fn.get("arguments") or "{}")
            log(logger, logging.INFO, "tool call", tool=fn.get("name"))
            messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": result})
    return "I stopped after too many tool calls; here is where things stand:\n" + tools.list_tasks()
