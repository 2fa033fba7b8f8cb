"""Skills (the reference's `/api/skills`): the `SKILL.md` folders in the agent's folder
(`skills/`, `.agents/skills/`, `.dexto/skills/`; runtime/skills.py). Read-only. `?agentId=`
names the agent."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, Field

from switchyard.errors import NotFoundError
from switchyard.runtime.skills import SkillCatalog
from switchyard.server.deps import agent_for
from switchyard.server.routes import RouteGroup

routes = RouteGroup(tags=["skills"], order=63)

SkillId = Annotated[str, Field(min_length=1, max_length=300)]


class SkillSummary(BaseModel):
    id: str = Field(description="The skill folder's name")
    displayName: str = Field(description="SKILL.md's first heading, else the id")
    description: str | None = Field(None, description="The front matter's description")


class SkillDocument(SkillSummary):
    instructions: str = Field(description="The whole SKILL.md")


class SkillListBody(BaseModel):
    skills: list[SkillSummary]


class SkillBody(BaseModel):
    skill: SkillDocument


def skills_of(request: Request) -> SkillCatalog:
    return SkillCatalog(agent_for(request).loaded.agent_dir)


@routes.get("/api/skills", scope="read", response_model=SkillListBody, errors=(404,),
            summary="The skills in the agent's folder")
async def list_skills(request: Request) -> dict[str, Any]:
    return {"skills": await asyncio.to_thread(skills_of(request).list)}


@routes.get("/api/skills/{id}", scope="read", response_model=SkillBody, errors=(404,),
            summary="One skill, with its instructions")
async def get_skill(request: Request, id: SkillId) -> dict[str, Any]:  # noqa: A002
    skill = await asyncio.to_thread(skills_of(request).get, id)
    if skill is None:
        raise NotFoundError(f"Skill not found: {id}", code="skill_not_found",
                            details={"endpoint": request.url.path, "method": request.method})
    return {"skill": skill}
