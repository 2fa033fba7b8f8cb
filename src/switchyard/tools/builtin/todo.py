"""The `todo-tools` family: todo_write, which replaces the session's todo list and publishes
a `todo:update` event (the whole list and created/updated/deleted counts).

Lists are kept per session in memory (they describe the turn in progress, as the reference's
do); an item keeps its id across calls while its content and activeForm stay the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal

from pydantic import Field, model_validator

from switchyard.config.tools_schema import TodoToolsConfig
from switchyard.errors import ToolError
from switchyard.events import Event, TodoUpdateEvent
from switchyard.ids import new_id
from switchyard.tools.builtin.base import BuiltinTool, ToolInput
from switchyard.tools.context import ToolCallContext

FAMILY = "todo-tools"


class TodoItem(ToolInput):
    content: str = Field(min_length=1, description='The task, imperative ("Fix the login bug")')
    activeForm: str = Field(min_length=1, description='Shown while it runs ("Fixing the login bug")')
    status: Literal["pending", "in_progress", "completed"]


class TodoWriteInput(ToolInput):
    todos: list[TodoItem] = Field(min_length=1, description="The complete todo list of the session")

    @model_validator(mode="after")
    def _one_in_progress(self) -> "TodoWriteInput":
        if sum(1 for t in self.todos if t.status == "in_progress") > 1:
            raise ValueError("only one todo may be in_progress at a time")
        return self


class TodoTools:
    def __init__(self, config: TodoToolsConfig, publish: Callable[[Event], Awaitable[None]]) -> None:
        self.config = config
        self.publish = publish
        self.lists: dict[str, list[dict[str, Any]]] = {}

    def tools(self) -> list[BuiltinTool[Any]]:
        return [BuiltinTool(
            "todo_write", "Track progress on a multi-step task. Replaces the whole todo list: always "
            "send every task (pending, in_progress, completed), with only one in_progress at a time.",
            TodoWriteInput, self.todo_write, family=FAMILY)]

    async def todo_write(self, args: TodoWriteInput, context: ToolCallContext) -> str:
        if len(args.todos) > self.config.maxTodosPerSession:
            raise ToolError(f"{len(args.todos)} todos is over maxTodosPerSession "
                            f"({self.config.maxTodosPerSession})")
        session = context.session_id or "default"
        existing = {(t["content"], t["activeForm"]): t for t in self.lists.get(session, [])}
        now = datetime.now(timezone.utc).isoformat()
        todos, created, updated = [], 0, 0
        for position, item in enumerate(args.todos):
            old = existing.pop((item.content, item.activeForm), None)
            if old is not None:
                todos.append({**old, "status": item.status, "position": position, "updatedAt": now})
                updated += 1
            else:
                todos.append({"id": new_id(), "sessionId": session, "content": item.content,
                              "activeForm": item.activeForm, "status": item.status,
                              "position": position, "createdAt": now, "updatedAt": now})
                created += 1
        self.lists[session] = todos
        stats = {"created": created, "updated": updated, "deleted": len(existing)}
        if self.config.enableEvents and context.session_id:
            await self.publish(TodoUpdateEvent(context.session_id, todos, stats))
        done = sum(1 for t in todos if t["status"] == "completed")
        pending = sum(1 for t in todos if t["status"] == "pending")
        running = any(t["status"] == "in_progress" for t in todos)
        return (f"Updated todos: {done}/{len(todos)} completed" + (", 1 in progress" if running else "")
                + (f", {pending} pending" if pending else ""))

    def forget(self, session_id: str) -> None:
        self.lists.pop(session_id, None)
