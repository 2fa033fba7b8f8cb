"""Managing the agents of a multi-agent server (the reference's `/api/agents/*` writes):
install from a path inside the allowed folders or from the agents folder, uninstall, switch
the current (default) agent, check a new id, and create an agent from a posted configuration.
All admin, audited by the security layer (`agent.change`); nothing needs a restart.
Install, uninstall and create need an agents folder (`switchyard serve --agents DIR`).
Services: runtime/agent_install.py (files and paths), runtime/agent_swap.py (serving)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from switchyard.errors import ConflictError, NotFoundError
from switchyard.runtime import agent_swap
from switchyard.runtime.agent_install import AgentsFolder, check_id, checked, config_text
from switchyard.runtime.host import AgentHost
from switchyard.server.deps import host_of
from switchyard.server.replicas import announce
from switchyard.server.routes import RouteGroup
from switchyard.server.model_settings import env_with_stored_keys
from switchyard.server.settings import settings_of

routes = RouteGroup(tags=["agents"], order=121)

PathText = Annotated[str, Field(min_length=1, max_length=4096)]
Name = Annotated[str, Field(max_length=200)]


class InstallMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[str, Field(max_length=2000)] = ""
    author: Name = ""
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    main: PathText | None = None


class InstallBody(BaseModel):
    """`{id, path?}` (an agent of the agents folder, or the file at `path`) or
    `{id, name?, sourcePath, metadata}` (a file or folder to copy in)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Name | None = None
    path: PathText | None = None
    sourcePath: PathText | None = None
    metadata: InstallMetadata | None = None


class AgentIdBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=200)]
    path: PathText | None = None


class UninstallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=200)]
    force: bool = False


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Name
    description: Annotated[str, Field(max_length=2000)]
    author: Name | None = None
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    config: dict[str, Any]


class Installed(BaseModel):
    installed: Literal[True]
    id: str
    name: str
    type: Literal["builtin", "custom"]


class Uninstalled(BaseModel):
    uninstalled: Literal[True]
    id: str


class Switched(BaseModel):
    switched: Literal[True]
    id: str
    name: str


class NameCheck(BaseModel):
    valid: bool
    conflict: str | None = None
    message: str | None = None


class Created(BaseModel):
    created: Literal[True]
    id: str
    name: str


def _folder(request: Request, *, required: bool = True) -> AgentsFolder | None:
    host = host_of(request)
    if host.folder is None:
        if required:
            raise ConflictError("this server serves no agents folder, so it has nowhere to install agents: "
                                "start it with `switchyard serve --agents DIR`", code="no_agents_folder")
        return None
    return AgentsFolder.of(host.folder, settings_of(request).env)


def _relative(folder: AgentsFolder, path: str | None) -> str | None:
    """An installed agent's file relative to the agents folder (where the other replicas look)."""
    if not path:
        return None
    resolved = Path(path).resolve()
    return str(resolved.relative_to(folder.root)) if resolved.is_relative_to(folder.root) else None


def _not_served(host: AgentHost, agent_id: str) -> None:
    if agent_id in host.agents:
        raise ConflictError(f"agent {agent_id!r} is already installed", code="agent_exists", details={"field": "id"})


@routes.post("/api/agents/install", scope="admin", status_code=201, response_model=Installed,
             errors=(403, 404, 409, 502), summary="Install an agent from the agents folder or a path")
async def install(request: Request, body: InstallBody) -> JSONResponse:
    host, folder, env = host_of(request), _folder(request), env_with_stored_keys(request)
    assert folder is not None
    agent_id = check_id(body.id)
    meta = body.metadata or InstallMetadata()
    source_field = "sourcePath" if body.sourcePath else "path"
    source = body.sourcePath or body.path
    name, description = body.name, meta.description
    async with agent_swap.change_lock(host):
        _not_served(host, agent_id)
        if source is None:
            entry = next((a["_entry"] for a in folder.available(host.agents) if a["id"] == agent_id), None)
            if entry is None:
                raise NotFoundError(f"no agent {agent_id!r} in the agents folder to install (give `sourcePath`)",
                                    code="agent_not_found", details={"field": "id"})
            name, description = body.name or entry.name, meta.description or entry.description
            loaded = checked(entry.path, agent_id, name=name, description=description, env=env)
            agent = await agent_swap.add(host, loaded)
        else:
            resolved = folder.allowed_source(source, source_field)
            folder.target(agent_id)
            main = folder.copy_in(agent_id, resolved, meta.main)
            try:
                loaded = checked(main, agent_id, name=body.name, description=meta.description, env=env)
                agent = await agent_swap.add(host, loaded)
            except BaseException:
                folder.remove_files(agent_id, str(main))
                raise
            folder.register(agent_id, {"name": body.name, "description": meta.description,
                                       "author": meta.author, "tags": meta.tags})
    await announce(request, "install", agent.id, text=Path(agent.loaded.path).read_text("utf-8"), meta={
        "name": name, "description": description,
        "path": _relative(folder, agent.loaded.path),
        "registry": {"name": body.name, "description": meta.description, "author": meta.author, "tags": meta.tags}})
    return JSONResponse({"installed": True, "id": agent.id, "name": agent.config.name, "type": "custom"},
                        status_code=201)


@routes.post("/api/agents/uninstall", scope="admin", response_model=Uninstalled, errors=(404, 409),
             summary="Stop serving an agent (and delete the folder it was installed to)")
async def uninstall(request: Request, body: UninstallBody) -> dict[str, Any]:
    host = host_of(request)
    folder = _folder(request, required=False)
    async with agent_swap.change_lock(host):
        agent = host.get(body.id)
        if agent.id == host.default_id and not body.force:
            raise ConflictError(f"agent {agent.id!r} is the current agent: switch to another first, or pass "
                                "`force: true`", code="agent_is_current", details={"field": "force"})
        routing = host.routing
        if routing is not None and routing.fallback == agent.id:
            raise ConflictError(f"agent {agent.id!r} is the router's fallback agent", code="agent_is_fallback")
        agent_swap.remove(host, agent.id)
        if folder is not None:
            folder.remove_files(agent.id, agent.loaded.path)
    await announce(request, "uninstall", agent.id)
    return {"uninstalled": True, "id": agent.id}


@routes.post("/api/agents/switch", scope="admin", response_model=Switched, errors=(404, 409),
             summary="Make a served agent the current (default) one")
async def switch(request: Request, body: AgentIdBody) -> dict[str, Any]:
    host = host_of(request)
    async with agent_swap.change_lock(host):
        if body.path:
            if "\x00" in body.path:
                raise NotFoundError("no served agent has the file at `path`", code="agent_not_found",
                                    details={"field": "path"})
            wanted = Path(body.path)
            if not wanted.is_absolute() and host.folder:
                wanted = Path(host.folder) / wanted
            match = next((a for a in host.agents.values() if a.loaded.path and
                          Path(a.loaded.path) == wanted.resolve()), None)
            if match is None:
                raise NotFoundError("no served agent has the file at `path` (install it first)",
                                    code="agent_not_found", details={"field": "path"})
            agent = host.set_default(match.id)
        else:
            agent = host.set_default(body.id)
    await announce(request, "switch", agent.id)
    return {"switched": True, "id": agent.id, "name": agent.config.name}


@routes.post("/api/agents/validate-name", scope="admin", response_model=NameCheck,
             summary="Whether an id is free for a new agent")
async def validate_name(request: Request, body: AgentIdBody) -> dict[str, Any]:
    host = host_of(request)
    try:
        check_id(body.id)
    except Exception as exc:  # noqa: BLE001 - the answer says why
        return {"valid": False, "message": getattr(exc, "message", str(exc))}
    if body.id in host.agents:
        return {"valid": False, "conflict": "custom", "message": f"Agent id '{body.id}' already exists (custom)"}
    folder = _folder(request, required=False)
    if folder is not None and (any(a["id"] == body.id for a in folder.available(host.agents))
                               or (folder.root / body.id).exists()):
        return {"valid": False, "conflict": "custom",
                "message": f"Agent id '{body.id}' conflicts with an agent file in the agents folder"}
    return {"valid": True}


@routes.post("/api/agents/custom/create", scope="admin", status_code=201, response_model=Created,
             errors=(409, 502), summary="Write a new agent file from a configuration and serve it")
async def create(request: Request, body: CreateBody) -> JSONResponse:
    host, folder, env = host_of(request), _folder(request), env_with_stored_keys(request)
    assert folder is not None
    agent_id = check_id(body.id)
    text = config_text(agent_id, body.config)
    async with agent_swap.change_lock(host):
        _not_served(host, agent_id)
        if any(a["id"] == agent_id for a in folder.available(host.agents)):
            raise ConflictError(f"an agent file with the id {agent_id!r} is in the agents folder",
                                code="agent_exists", details={"field": "id"})
        target = folder.target(agent_id) / f"{agent_id}.yml"
        checked(target, agent_id, name=body.name, description=body.description, env=env, text=text,
                prefix="config.")
        folder.make_folder(agent_id)
        try:
            agent_swap.write_atomically(target, text)
            loaded = checked(target, agent_id, name=body.name, description=body.description, env=env)
            await agent_swap.add(host, loaded)
        except BaseException:
            folder.remove_files(agent_id, str(target))
            raise
        registry = {"name": body.name, "description": body.description, "author": body.author or "Custom",
                    "tags": body.tags}
        folder.register(agent_id, registry)
    await announce(request, "install", agent_id, text=text, meta={
        "name": body.name, "description": body.description, "path": f"{agent_id}/{agent_id}.yml",
        "registry": registry})
    return JSONResponse({"created": True, "id": agent_id, "name": body.name}, status_code=201)
