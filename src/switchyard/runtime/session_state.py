"""Per-session state that replicas share in Redis (runtime/replicas.py installs it): the API key
of a session's model override, and the session's own system-prompt contributors. Without
replicas both stay in the process's memory (runtime/sessions.LiveSession.llm_api_key,
runtime/system_prompt.SystemPrompt.sessions) and this module is not used.

- The **key** of a model switched for one session (`POST /api/llm/switch` with `sessionId` and
  `apiKey`) is stored encrypted (server/secret_box.py: every replica must have the same
  SWITCHYARD_SECRET_KEY; without it such a switch is refused in replica mode, rather than
  leaving the other replicas to use the agent's key for the session). The override itself (model,
  provider, ...; never the key) is in the session's record in the store, as without replicas.
- A session's **contributors** are a hash per session (contributor id -> priority and text);
  each change is one field, so two replicas changing different contributors keep both. The
  agent-wide contributors added at run time (`POST /api/system-prompt/contributors`) are one
  more hash, per agent.

Before each turn of the session, and before contributors are listed or changed, this replica
reads them back from Redis (`prepare`, `refresh_contributors`, `refresh_agent_contributors`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from switchyard.errors import RequestError, RuntimeFailure

log = logging.getLogger("switchyard.replicas")


class SharedSessionState:
    def __init__(self, shared: Any, agent_id: str, prompt: Any, box: Any = None) -> None:
        self.shared = shared
        self.agent_id = agent_id
        self.prompt = prompt        # runtime/system_prompt.SystemPrompt
        # server/secret_box.SecretBox when SWITCHYARD_SECRET_KEY is set (the same on all replicas).
        self.box = box

    def _key_of(self, session_id: str) -> str:
        return self.shared.key("llm-key", self.agent_id, session_id)

    def _contributors_of(self, session_id: str) -> str:
        return self.shared.key("contributors", self.agent_id, session_id)

    def _agent_contributors(self) -> str:
        return self.shared.key("agent-contributors", self.agent_id)

    # --- the session's model key ---------------------------------------------------------

    async def key_switched(self, session_id: str, api_key: str | None) -> None:
        """The session's override now uses `api_key` (None: the agent's own key)."""
        if api_key is None:
            await self.shared.redis.delete(self._key_of(session_id))
            return
        if self.box is None:
            raise RequestError("apiKey: a session's own API key needs SWITCHYARD_SECRET_KEY (the same on every "
                               "replica) when replicas share Redis; set it, or switch without apiKey",
                               code="session_key_needs_secret_key", details={"field": "apiKey"})
        await self.shared.redis.set(self._key_of(session_id), self.box.encrypt(api_key))

    async def session_key(self, session_id: str) -> str | None:
        return self._open_key(session_id, await self.shared.redis.get(self._key_of(session_id)))

    def _open_key(self, session_id: str, token: str | None) -> str | None:
        if not token:
            return None
        try:
            if self.box is None:
                raise ValueError("no SWITCHYARD_SECRET_KEY")
            return str(self.box.decrypt(token))
        except Exception:  # noqa: BLE001 - another replica's key: refuse the turn, never use the agent's key
            log.error("session %s: its model's API key was stored under another SWITCHYARD_SECRET_KEY", session_id)
            raise RuntimeFailure("this replica cannot read the session's model API key: set the same "
                                 "SWITCHYARD_SECRET_KEY on every replica", code="session_key_unreadable",
                                 status=503) from None

    # --- the session's contributors ------------------------------------------------------

    async def refresh_contributors(self, session_id: str) -> None:
        self._set_contributors(session_id, await self.shared.redis.hgetall(self._contributors_of(session_id)))

    async def refresh_agent_contributors(self) -> None:
        self._set_agent_contributors(await self.shared.redis.hgetall(self._agent_contributors()))

    def _sections(self, stored: dict[str, str], whose: str) -> dict[str, Any]:
        from switchyard.runtime.system_prompt import Section
        table = {}
        for cid, raw in stored.items():
            try:
                priority, text = json.loads(raw)
                table[cid] = Section(cid, int(priority), str(text))
            except (ValueError, TypeError):
                log.warning("skipped an unreadable contributor %s of %s", cid, whose)
        return table

    def _set_contributors(self, session_id: str, stored: dict[str, str]) -> None:
        table = self._sections(stored, f"session {session_id}")
        if table:
            self.prompt.sessions[session_id] = table
        else:
            self.prompt.sessions.pop(session_id, None)

    def _set_agent_contributors(self, stored: dict[str, str]) -> None:
        # In place: an agent replaced by a new configuration shares this dict (Agent.hand_over).
        runtime = self.prompt.runtime
        runtime.clear()
        runtime.update(self._sections(stored, f"agent {self.agent_id}"))

    async def _write(self, name: str, contributor_id: str, section: Any) -> None:
        if section is None:
            await self.shared.redis.hdel(name, contributor_id)
        else:
            await self.shared.redis.hset(name, contributor_id, json.dumps([section.priority, section.text]))

    async def contributor_changed(self, session_id: str, contributor_id: str) -> None:
        """Write one contributor of the session as this replica now has it (gone: removed)."""
        section = self.prompt.sessions.get(session_id, {}).get(contributor_id)
        await self._write(self._contributors_of(session_id), contributor_id, section)

    async def agent_contributor_changed(self, contributor_id: str) -> None:
        """Write one agent-wide contributor as this replica now has it (gone: removed)."""
        await self._write(self._agent_contributors(), contributor_id, self.prompt.runtime.get(contributor_id))

    # --- per turn, and when the session goes ---------------------------------------------

    async def prepare(self, session_id: str, live: Any) -> None:
        """Before a turn of the session on this replica: its key and contributors as shared."""
        async with self.shared.redis.pipeline(transaction=False) as pipe:   # one round trip per turn
            pipe.get(self._key_of(session_id))
            pipe.hgetall(self._contributors_of(session_id))
            pipe.hgetall(self._agent_contributors())
            token, contributors, agent_wide = await pipe.execute()
        live.llm_api_key = self._open_key(session_id, token)
        self._set_contributors(session_id, contributors)
        self._set_agent_contributors(agent_wide)

    async def forget(self, session_id: str) -> None:
        await self.shared.redis.delete(self._key_of(session_id), self._contributors_of(session_id))
