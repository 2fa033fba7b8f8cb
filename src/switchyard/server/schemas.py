"""Request bodies, as the reference accepts them (strict where it is strict), and the error
envelope every error answer carries. Response bodies: response_models.py."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from switchyard.config.schema import ReasoningConfig
from switchyard.ids import SESSION_ID_PATTERN

SessionId = Annotated[str, Field(min_length=1, max_length=200, pattern=SESSION_ID_PATTERN)]


class ErrorEnvelope(BaseModel):
    """Every error answer, of a route or of the security layer (server/errors.py):
    `error` the status's reason phrase, `code` a stable name, `message` what was wrong,
    `details` structured extras (validation `issues` with field paths, `requiredScope`, ...)."""

    error: str = Field(examples=["Not Found"])
    code: str = Field(examples=["session_not_found"])
    message: str
    details: Any = None


def error_response_doc(status: int) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an error status answered with the envelope."""
    return {"model": ErrorEnvelope, "description": HTTPStatus(status).phrase}


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImagePart(BaseModel):
    type: Literal["image"]
    image: str
    mimeType: str | None = None


class FilePart(BaseModel):
    type: Literal["file"]
    data: str
    mimeType: str
    filename: str | None = None


ContentPart = Annotated[Union[TextPart, ImagePart, FilePart], Field(discriminator="type")]
# Not empty: a blank text or no parts is refused (400), so the document says so too.
Content = Union[Annotated[str, Field(min_length=1, pattern=r"\S")],
                Annotated[list[ContentPart], Field(min_length=1)]]


class MessageBody(BaseModel):
    content: Content
    sessionId: SessionId | None = None
    agentId: str | None = None


class ResetBody(BaseModel):
    sessionId: SessionId
    agentId: str | None = None


class CreateSessionBody(BaseModel):
    sessionId: SessionId | None = None
    agentId: str | None = None


class PatchSessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=120)


class CancelBody(BaseModel):
    clearQueue: bool = False


class LLMSwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str | None = None
    model: str | None = None
    apiKey: str | None = None
    baseURL: str | None = None
    maxIterations: int | None = Field(None, ge=1, le=1000)
    maxInputTokens: int | None = Field(None, gt=0)
    maxOutputTokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=1)
    # {variant, budgetTokens?}; null turns thinking off again (the provider's default).
    reasoning: ReasoningConfig | None = None
    sessionId: SessionId | None = None
    agentId: str | None = None


def content_dump(content: Content) -> str | list[dict]:
    if isinstance(content, str):
        return content
    return [part.model_dump(exclude_none=True) for part in content]
