"""One agent's sessions as one caller may use them: every session ownership check is here.

REST routes, A2A, MCP, the OpenAI-compatible API and the approval routes all go through
`SessionAccess(agent, principal)`; none of them compares owners itself, and none reaches the
session store. The rules:

- A session records the name of the key that created it (`owner`). Admin keys and no-auth
  mode (the anonymous admin) see every session; any other key sees only its own.
- A session the caller may not see is answered exactly like a missing one: NotFoundError
  `session_not_found` (404), never "forbidden", which would confirm that the id exists.
- Who may name a new session id: admin keys and no-auth mode (one tenant, as in the reference
  server: a message to a new id creates it, owned by the caller). A non-admin key may use only
  ids it can see: its sessions are created with ids the server makes (a message without a
  `sessionId`, `POST /api/sessions` without one), random UUIDs nobody else learns. A non-admin
  key naming any other id gets `session_not_found`, whether the id is free, another key's, or
  used under another agent: no answer tells it whether an id exists (no existence oracle), and
  it cannot claim an id first to squat on another key's or another agent's conversation.
- Deleting or resetting a session also forgets the tool approvals remembered for it
  ("rememberChoice"), so they do not carry over to a later session with the same id.
- Deleting a missing session is 404 like deleting another key's (the reference's answer to
  an unknown session on reset, and the only one that is not an oracle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from switchyard.errors import NotFoundError
from switchyard.principal import Principal

if TYPE_CHECKING:
    from switchyard.runtime.agent import Agent
    from switchyard.events import Event


class SessionAccess:
    """The sessions of `agent`, as `principal` may see and change them.

    Cheap to make (two references): build one per call. Operations that name one session
    raise NotFoundError (`session_not_found`) when it is missing or not the caller's."""

    def __init__(self, agent: "Agent", principal: Principal) -> None:
        self.agent = agent
        self.principal = principal

    # --- who ---------------------------------------------------------------------------

    @property
    def owner(self) -> str | None:
        """The owner to record on sessions this caller creates (a key name, or None)."""
        return self.principal.name

    def _owner_filter(self) -> str | None:
        """Whose sessions this caller sees: None for all (admins, and callers with no name,
        i.e. no-auth mode), else its own name."""
        return None if self.principal.is_admin else self.principal.name

    def _visible(self, session: dict[str, Any]) -> bool:
        owner = self._owner_filter()
        return owner is None or session.get("owner") == owner

    def _check(self, session: dict[str, Any]) -> dict[str, Any]:
        if not self._visible(session):
            # The very error Agent.get_session raises for a missing session.
            raise NotFoundError(f"session {session['id']!r} not found", code="session_not_found")
        return session

    async def _find(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, or None when there is none (whoever owns it)."""
        try:
            return await self.agent.get_session(session_id)
        except NotFoundError:
            return None

    # --- reading -------------------------------------------------------------------------

    async def get(self, session_id: str) -> dict[str, Any]:
        """The session; 404 when it is missing or another key's (the same answer for both)."""
        return self._check(await self.agent.get_session(session_id))

    async def may_see(self, session_id: str) -> bool:
        """Whether the session exists and the caller may see it (e.g. its pending approvals):
        False for a missing session and for another key's alike."""
        session = await self._find(session_id)
        return session is not None and self._visible(session)

    async def list_visible(self) -> list[dict[str, Any]]:
        """The caller's sessions; every session for admins and in no-auth mode."""
        return await self.agent.list_sessions(owner=self._owner_filter())

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        await self.get(session_id)
        return await self.agent.history(session_id)

    async def attach(self, session_id: str) -> AsyncIterator["Event"]:
        """The running turn's events (ConflictError `session_not_busy` when none runs)."""
        await self.get(session_id)
        return await self.agent.attach_anywhere(session_id)

    # --- changing ------------------------------------------------------------------------

    @property
    def may_name_new_ids(self) -> bool:
        """Whether this caller may create a session under an id it chooses (see above)."""
        return self.principal.is_admin

    async def _visible_or_missing(self, session_id: str) -> dict[str, Any] | None:
        """The session when the caller may see it; None when it is missing and the caller may
        create it under this id; NotFoundError otherwise (the same for every reason)."""
        existing = await self._find(session_id)
        if existing is not None and self._visible(existing):
            return existing
        if existing is None and self.may_name_new_ids:
            return None
        raise NotFoundError(f"session {session_id!r} not found", code="session_not_found")

    async def create(self, session_id: str | None = None) -> dict[str, Any]:
        """A new session owned by the caller. Idempotent: an existing id the caller may see
        is returned as it is. Only admins (and no-auth mode) choose the id of a new one."""
        if session_id:
            existing = await self._visible_or_missing(session_id)
            if existing is not None:
                return existing
        session, _ = await self.agent.create_session(session_id, owner=self.owner)
        return session

    async def ensure_may_send(self, session_id: str | None) -> None:
        """Before a message goes to `session_id`: no id is fine (the run creates a session
        under a fresh id, owned by `self.owner`); a named one must be visible to the caller,
        or missing and the caller one that may name new ids."""
        if session_id:
            await self._visible_or_missing(session_id)

    async def rename(self, session_id: str, title: str) -> dict[str, Any]:
        await self.get(session_id)
        return await self.agent.set_title(session_id, title)

    async def fork(self, session_id: str) -> dict[str, Any]:
        """A copy of the session with its history, owned by the caller."""
        await self.get(session_id)
        return await self.agent.fork_session(session_id, owner=self.owner)

    async def reset(self, session_id: str) -> None:
        """Clear the conversation (a running turn is cancelled first)."""
        await self.get(session_id)
        await self.agent.reset(session_id)
        await self._forget_approvals(session_id)

    async def clear_context(self, session_id: str) -> None:
        """A fresh model context; the history the user sees stays whole."""
        await self.get(session_id)
        await self.agent.clear_context(session_id)

    async def generate_title(self, session_id: str) -> str | None:
        await self.get(session_id)
        return await self.agent.generate_title(session_id)

    async def contributors(self, session_id: str) -> list[dict[str, Any]]:
        """What the session's system prompt is built from (the agent's, and its own)."""
        await self.get(session_id)
        if self.agent.session_state is not None:
            await self.agent.session_state.refresh_contributors(session_id)
        return self.agent.prompt.contributors(session_id)

    async def set_contributor(self, session_id: str, contributor_id: str, *, enabled: bool,
                              content: str | None, priority: int | None) -> dict[str, Any]:
        """Add or replace (enabled) or remove (not) one of the session's own contributors."""
        await self.get(session_id)
        state = self.agent.session_state
        if state is not None:
            await state.refresh_contributors(session_id)
        if not enabled:
            result = self.agent.prompt.remove(contributor_id, session_id)
        else:
            result = self.agent.prompt.upsert(contributor_id, content or "", priority, session_id)
        if state is not None:
            await state.contributor_changed(session_id, result["id"])
        return result

    async def cancel(self, session_id: str) -> bool:
        """Cancel the running turn; False when none runs."""
        await self.get(session_id)
        return await self.agent.cancel(session_id)

    async def delete(self, session_id: str) -> bool:
        """Delete the session and its history; 404 when it is missing or another key's."""
        await self.get(session_id)
        deleted = await self.agent.delete_session(session_id)
        await self._forget_approvals(session_id)
        return deleted

    # --- throw-away sessions of one call (OpenAI stateless mode, MCP without a sessionId) ---

    async def create_ephemeral(self, session_id: str, history: list[dict[str, Any]]) -> None:
        """A session for one call, seeded with the conversation so far. No lookup: the caller
        made `session_id` fresh for this call."""
        await self.agent.create_session(session_id, owner=self.owner)
        if history:
            # No Agent method appends messages outside a turn: the one direct store write here.
            await self.agent.store.sessions.append(self.agent.id, session_id, history)

    async def discard(self, session_id: str) -> None:
        """Delete a throw-away session this caller created for one call (no ownership lookup:
        it is the caller's by construction)."""
        await self.agent.delete_session(session_id)
        await self._forget_approvals(session_id)

    async def _forget_approvals(self, session_id: str) -> None:
        """Remembered approvals are per session id: a later session with the same id must not
        inherit them (pending ones of the session are cancelled too)."""
        approvals = self.agent.approvals
        if approvals is not None:
            approvals.forget_session(session_id)
            await approvals.forget_shared(session_id)
        # Likewise the session's todo list (todo-tools).
        self.agent.tooling.forget_session(session_id)
