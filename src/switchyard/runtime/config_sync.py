"""Agent configuration changes made over HTTP, held across workers and replicas
(docs/production.md, "Agent configuration across replicas").

The replica that applies a change (`POST /api/agent/config`, `/api/agents/install`,
`uninstall`, `switch`, `custom/create`) records it in the shared store's journal
(store/agent_configs.py: the agent file's text, not a path, since replicas on several machines
do not share files) and announces its version over Redis. Every other replica reads the
journal from the last version it read, on the announcement and every `interval` seconds
(a missed message is caught up there), and applies each agent's newest change with the same
machinery as the route: a new file text is validated, started beside the running agent,
written to this replica's file and swapped in (runtime/agent_config.py); an install writes
the text into this replica's agents folder (unless the same text is already there, as for
workers sharing one folder) and serves it; an uninstall and a switch do what the route does.

A replica that fails to apply a change (an MCP server that will not start there, an agents
folder it lacks) keeps serving what it served, logs an error naming the version, and reports
it (`status`, shown by `GET /api/agent/config`); a newer change of that agent is tried again.

At start, each replica serves its files, then catches up with the journal: the journal is the
source of truth for what was changed over HTTP, except that a file whose text the journal
never saw (edited by hand since) is served as it is, with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Mapping

from switchyard.errors import ConflictError, RuntimeFailure
from switchyard.runtime import agent_config, agent_swap
from switchyard.runtime.agent_install import AgentsFolder, checked
from switchyard.runtime.host import AgentHost
from switchyard.store import agent_configs as journal
from switchyard.store.database import Database

log = logging.getLogger("switchyard.replicas")

DEFAULT_INTERVAL = 5.0
SETTLE_TIMEOUT = 30.0   # how long a message waits for an announced change to be applied here
BUSY = "agent_change_in_progress"


def file_sha(agent: Any) -> str | None:
    if not agent.loaded.path:
        return None
    try:
        return journal.text_sha(Path(agent.loaded.path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


class ConfigSync:
    def __init__(self, host: AgentHost, db: Database, shared: Any, env: Mapping[str, str], *,
                 interval: float = DEFAULT_INTERVAL) -> None:
        self.host, self.db, self.shared, self.env = host, db, shared, env
        self.interval = interval
        self.version = 0                                     # the last journal entry read
        self.announced = 0                                   # the newest version announced over Redis
        self.served: dict[str, tuple[int | None, str | None]] = {}   # agent -> (version, sha) it serves
        self.failures: dict[str, dict[str, Any]] = {}        # agent -> {version, error}
        self._catching_up = asyncio.Lock()
        self._read_once = False     # the first read of the journal is the start's (a file edited by hand wins)

    @property
    def replica(self) -> str:
        return str(self.shared.replica)

    # --- this replica's changes ---------------------------------------------------------

    def replaced_sha(self, agent_id: str) -> str | None:
        return self.served.get(agent_id, (None, None))[1]

    async def record(self, action: str, agent_id: str, *, text: str | None = None,
                     replaced_sha: str | None = None, meta: dict[str, Any] | None = None) -> int | None:
        """A change this replica applied: into the journal, then announced. Never raises: the
        change is applied here whatever happens; the error says the others will not see it."""
        try:
            version = await self.db.write(lambda conn: journal.append(
                conn, agent_id=agent_id, action=action, replica=self.replica, text=text,
                replaced_sha=replaced_sha, meta=meta))
        except Exception as exc:  # noqa: BLE001 - the store is away: say so, loudly
            log.error("agent %s: the %s change applied here could NOT be recorded for the other replicas "
                      "(%s); they keep their configuration until it is applied again", agent_id, action,
                      type(exc).__name__)
            return None
        if action == "uninstall":
            self.served.pop(agent_id, None)
        elif text is not None:
            self.served[agent_id] = (version, journal.text_sha(text))
        self.failures.pop(agent_id, None)
        try:
            await self.shared.announce_config(version)
        except Exception as exc:  # noqa: BLE001 - the others find it at their next check
            log.warning("configuration version %d not announced over Redis (%s): the other replicas apply "
                        "it at their next check", version, type(exc).__name__)
        return version

    def status(self, agent_id: str) -> dict[str, Any]:
        """What GET /api/agent/config says about this replica (`failures`: of every agent, an
        install that failed here included)."""
        served = self.served.get(agent_id, (None, None))[0]
        return {"replica": self.replica, "version": self.version, "servedVersion": served,
                "failed": self.failures.get(agent_id), "failures": list(self.failures.values())}

    # --- the others' changes ------------------------------------------------------------

    async def start(self, supervisor: Any) -> None:
        for agent in self.host.agents.values():
            self.served[agent.id] = (None, file_sha(agent))
        try:
            await self.catch_up(initial=True)
        except Exception as exc:  # noqa: BLE001 - serve the files; the periodic check tries again
            log.error("could not read the agent configuration journal at start: %s", type(exc).__name__)
        supervisor.keep_running(self._listen, name="config-sync:listen")
        supervisor.every(self.interval, self.catch_up, name="config-sync:check")

    async def _listen(self) -> None:
        async for version in self.shared.config_versions():
            self.announced = max(self.announced, version)
            if version > self.version:
                await self.catch_up()

    @property
    def behind(self) -> bool:
        """A change was announced that this replica has not applied yet (it is starting it)."""
        return self.announced > self.version

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Before a message picks its agent: wait until the announced changes are applied here,
        so a turn sent right after a change on another replica runs the new configuration. At
        most `timeout` seconds; the apply itself is never cancelled by the wait."""
        try:
            await asyncio.wait_for(asyncio.shield(self.catch_up()), timeout)
        except Exception as exc:  # noqa: BLE001 - the message goes on with what is served
            log.warning("a message did not wait for configuration version %d to be applied here: %s",
                        self.announced, type(exc).__name__)

    async def catch_up(self, initial: bool = False) -> None:
        """Apply what the journal holds past the last version read: each agent's newest change
        (an agent changed twice ends as the second change says), then the newest switch."""
        async with self._catching_up:
            rows = await self.db.read(journal.since, self.version)
            initial, self._read_once = initial or not self._read_once, True
            if not rows:
                return
            newest: dict[str, dict[str, Any]] = {}
            switch = None
            for row in rows:
                if row["action"] == "switch":
                    switch = row
                else:
                    newest.pop(row["agent_id"], None)
                    newest[row["agent_id"]] = row
            complete = True
            for agent_id, row in newest.items():
                try:
                    await self._apply(row, initial)
                except ConflictError as exc:
                    if exc.code != BUSY:
                        self._failed(row, exc)
                    else:
                        complete = False     # a change in progress here: read these again next time
                except Exception as exc:  # noqa: BLE001 - keep serving what is served, and say why
                    self._failed(row, exc)
            if switch is not None and switch["agent_id"] in self.host.agents \
                    and self.host.default_id != switch["agent_id"]:
                self.host.set_default(switch["agent_id"])
                log.info("agent %s: now the current agent (configuration version %d)", switch["agent_id"],
                         switch["seq"])
            if complete:
                self.version = rows[-1]["seq"]

    def _failed(self, row: dict[str, Any], exc: BaseException) -> None:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        self.failures[row["agent_id"]] = {"agentId": row["agent_id"], "version": row["seq"], "action": row["action"],
                                          "error": message}
        log.error("REPLICA OUT OF SYNC: agent %s: configuration version %d (%s, applied on replica %s) could not "
                  "be applied on this replica (%s), which keeps serving its previous configuration: %s",
                  row["agent_id"], row["seq"], row["action"], row["replica"], self.replica, message)

    async def _apply(self, row: dict[str, Any], initial: bool) -> None:
        agent_id, seq = row["agent_id"], row["seq"]
        hosted = self.host.agents.get(agent_id)
        if row["action"] == "uninstall":
            if hosted is not None:
                await self._uninstall(hosted)
                log.info("agent %s: uninstalled (configuration version %d)", agent_id, seq)
            self.served.pop(agent_id, None)
            self.failures.pop(agent_id, None)
            return
        text, sha = row["text"], row["sha"]
        if hosted is None:
            await self._install(row)
            log.info("agent %s: installed (configuration version %d)", agent_id, seq)
        elif self.served.get(agent_id, (None, None))[1] != sha:
            current = self.served.get(agent_id, (None, None))[1]
            if initial and current is not None and current not in await self.db.read(journal.known_shas, agent_id):
                log.warning("agent %s: its file differs from every configuration applied over HTTP (edited by "
                            "hand since?): serving the file, not configuration version %d", agent_id, seq)
                return
            await agent_config.apply_text(self.host, hosted, text, env=self.env)
            log.info("agent %s: configuration version %d applied (changed on replica %s)", agent_id, seq,
                     row["replica"])
        self.served[agent_id] = (seq, sha)
        self.failures.pop(agent_id, None)

    def _folder(self, agent_id: str) -> AgentsFolder:
        if self.host.folder is None:
            raise RuntimeFailure(f"agent {agent_id!r} was installed on another replica, but this one serves no "
                                 "agents folder (switchyard serve --agents DIR) to install it to",
                                 code="no_agents_folder")
        return AgentsFolder.of(self.host.folder, self.env)

    async def _install(self, row: dict[str, Any]) -> None:
        agent_id, text, meta = row["agent_id"], row["text"], row["meta"] or {}
        folder = self._folder(agent_id)
        async with agent_swap.change_lock(self.host):
            if agent_id in self.host.agents:
                return
            path, made = self._installed_file(folder, agent_id, text, row["sha"], meta.get("path"))
            try:
                loaded = checked(path, agent_id, name=meta.get("name"), description=meta.get("description"),
                                 env=self.env)
                await agent_swap.add(self.host, loaded)
            except BaseException:
                if made:
                    folder.remove_files(agent_id, str(path))
                raise
            if made and meta.get("registry"):
                folder.register(agent_id, meta["registry"])

    @staticmethod
    def _installed_file(folder: AgentsFolder, agent_id: str, text: str, sha: str,
                        relative: str | None) -> tuple[Path, bool]:
        """The file to serve the installed agent from: the one already in this replica's folder
        when it has the same text (workers sharing one folder), else `<id>/<id>.yml` written
        here. Returns (path, whether this call made it)."""
        for candidate in ([folder.root / relative] if relative else []) + [folder.root / agent_id / f"{agent_id}.yml"]:
            resolved = candidate.resolve()
            if resolved.is_relative_to(folder.root) and resolved.is_file() \
                    and journal.text_sha(resolved.read_text("utf-8")) == sha:
                return resolved, False
        target = folder.target(agent_id) / f"{agent_id}.yml"      # ConflictError: another agent's folder
        folder.make_folder(agent_id)
        agent_swap.write_atomically(target, text)
        return target, True

    async def _uninstall(self, agent: Any) -> None:
        async with agent_swap.change_lock(self.host):
            agent_swap.remove(self.host, agent.id)
            if self.host.folder is not None:
                AgentsFolder.of(self.host.folder, self.env).remove_files(agent.id, agent.loaded.path)
