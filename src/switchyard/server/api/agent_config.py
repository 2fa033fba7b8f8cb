"""An agent's configuration (the reference's `/api/agent/*`): its file (secrets redacted),
validating YAML, applying a new configuration without a restart (admin; written atomically;
running turns finish with the configuration they began with), the effective configuration
exported as YAML (secrets redacted) and the file's path. `?agentId=` names the agent on a
multi-agent server (default: the current agent). Services: runtime/agent_config.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from switchyard.runtime import agent_config
from switchyard.server.deps import agent_for, host_of, sessions_for
from switchyard.server.replicas import announce, config_sync_of
from switchyard.server.routes import QueryParam, RouteGroup
from switchyard.server.schemas import SessionId

routes = RouteGroup(tags=["agent config"], order=120)

AGENT_ID = QueryParam("agentId", "The agent (default: the current agent)")
YamlText = Annotated[str, Field(max_length=agent_config.MAX_CONFIG_CHARS, description="The agent file's YAML")]


class YamlBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    yaml: YamlText


class AgentPath(BaseModel):
    path: str
    relativePath: str
    name: str
    isDefault: bool


class SyncFailure(BaseModel):
    agentId: str
    version: int = Field(description="The configuration version this replica could not apply")
    action: str
    error: str


class ReplicaConfig(BaseModel):
    """With replicas (SWITCHYARD_REDIS_URL): which configuration this replica serves."""
    replica: str = Field(description="This process's replica id")
    version: int = Field(description="The last configuration version this replica has read")
    servedVersion: int | None = Field(description="The version of the agent's configuration served here "
                                                  "(null: its file as at start)")
    failed: SyncFailure | None = Field(description="A newer change this replica failed to apply (it serves "
                                                   "the previous configuration)")
    failures: list[SyncFailure] = Field(description="Every change this replica failed to apply, of any agent "
                                                    "(an install that failed here included)")


class AgentConfigFile(BaseModel):
    yaml: str
    path: str
    relativePath: str
    lastModified: str
    warnings: list[str]
    replica: ReplicaConfig | None = None


class ConfigSaved(BaseModel):
    ok: bool
    path: str
    reloaded: bool
    restarted: bool
    changesApplied: list[str]
    message: str


class ValidationIssue(BaseModel):
    line: int | None = None
    column: int | None = None
    path: str | None = None
    message: str
    code: str


class ValidationWarning(BaseModel):
    path: str
    message: str
    code: str


class ConfigValidation(BaseModel):
    valid: bool
    errors: list[ValidationIssue]
    warnings: list[ValidationWarning]


def _env(request: Request) -> Any:
    from switchyard.server.model_settings import env_with_stored_keys
    return env_with_stored_keys(request)   # the environment, then the stored provider keys


@routes.get("/api/agent/path", scope="read", summary="Where the agent's file is", response_model=AgentPath,
            errors=(404,))
async def agent_path(request: Request, agentId: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    host = host_of(request)
    return agent_config.path_info(agent_for(request, agentId), host.default_id)


@routes.get("/api/agent/config", scope="admin", summary="The agent's file (secrets redacted)",
            response_model=AgentConfigFile, errors=(404,))
async def get_config(request: Request, agentId: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    agent = agent_for(request, agentId)
    answer = agent_config.read_config(agent)
    sync = config_sync_of(request)
    if sync is not None:
        answer["replica"] = sync.status(agent.id)
    return answer


@routes.post("/api/agent/config", scope="admin", response_model=ConfigSaved, errors=(404, 409, 502),
             summary="Validate, write (atomically) and apply a new agent file, without a restart")
async def save_config(request: Request, body: YamlBody,
                      agentId: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    agent = agent_for(request, agentId)
    sync = config_sync_of(request)
    replaced = sync.replaced_sha(agent.id) if sync is not None else None
    answer = await agent_config.apply_text(host_of(request), agent, body.yaml, env=_env(request))
    await announce(request, "config", agent.id, text=body.yaml, replaced_sha=replaced)
    return answer


@routes.post("/api/agent/validate", scope="admin", response_model=ConfigValidation, errors=(404,),
             summary="Check YAML as the agent's file: errors and warnings with their field paths")
async def validate_config(request: Request, body: YamlBody,
                          agentId: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    return agent_config.validate_text(body.yaml, agent_for(request, agentId), env=_env(request))


@routes.get("/api/agent/config/export", scope="admin", errors=(404,),
            summary="The effective configuration as YAML (secrets and environment values redacted)",
            responses={200: {"content": {"application/x-yaml": {"schema": {
                "type": "object", "description": "The agent configuration, a YAML document"}}}}})
async def export_config(request: Request, agentId: Annotated[str | None, Query(max_length=200)] = None,
                        sessionId: Annotated[SessionId | None, Query(description="Export this session's model")] = None
                        ) -> Response:
    agent = agent_for(request, agentId)
    llm = agent.config.llm
    if sessionId:
        session = await sessions_for(request, agent).get(sessionId)
        llm = agent.session_llm_config(session)
    return Response(agent_config.export_yaml(agent, llm), media_type="application/x-yaml")
