"""`switchyard route --hook --agents DIR` without rebuilding the router on every prompt.

Building the router from a folder costs ~0.5 s (pydantic and the agent-file schema, YAML,
numpy, the static embeddings, embedding every agent text). A hook runs on every prompt, so the
first run writes what the router needs into one JSON file under the user's cache dir
(`$XDG_CACHE_HOME/switchyard/hook/`, else `~/.cache/switchyard/hook/`): each agent's routing
fields (agent_texts.py reads them back unchanged) and the float32 embeddings of its texts.
Later runs rebuild the router from that file in plain Python: no pydantic, no YAML, no numpy;
the prompt itself is embedded from the uncompressed token table (static_table.py).

The cache is trusted only while nothing it was built from has changed: the file records a
fingerprint (this cache's format, Switchyard's version, the mtimes of the modules that decide
what is cached, the embeddings data file, and the paths, sizes and mtimes of the folder's
entries, its sub-folders' entries and every agent file read) and a run whose fingerprint
differs rebuilds it. It is written atomically (a private temporary file renamed into place,
mode 0600: it holds the agents' system prompts). A cache that cannot be read or does not hold
together is rebuilt; a cache that cannot be written only costs speed.

Only the default install's layers are cached: `--semantic static` (the hook's default) and
`off`. With `--semantic auto|on` (the full model) the hook builds the router as before.
Decisions are the same as the router built from the files: the numbers differ only by float32
rounding (tests/unit/test_hook_cache.py compares them on the bench's routing sets).
"""

from __future__ import annotations

import json
import os
import zlib
from binascii import a2b_base64, b2a_base64
from types import SimpleNamespace

from switchyard import __version__
from switchyard.routing.cache_dirs import cache_root

TYPE_CHECKING = False  # typing is not imported at run time: `route --hook` loads this per prompt
if TYPE_CHECKING:
    from typing import Any

CACHE_VERSION = 2   # 2: token weights and hub offsets of the semantic layer
AGENT_FILE_SUFFIXES = (".yml", ".yaml", ".json")
_HERE = os.path.dirname(os.path.abspath(__file__))
# The code that decides what is cached: an edited checkout or an upgrade invalidates caches.
_CODE = [os.path.join(_HERE, name) for name in
         ("hook_cache.py", "agent_texts.py", "static_table.py", "static.py", "wordpiece.py",
          "semantic.py", "profiles.py")] + \
        [os.path.join(_HERE, "..", "config", name) for name in ("loader.py", "schema.py", "folder.py")]


def cache_file(agents_dir: str) -> str:
    """One file per agents folder (by absolute path: a relative one means another folder
    from another working directory)."""
    root = os.path.abspath(agents_dir)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in os.path.basename(root))[:40]
    return os.path.join(cache_root(), "hook", f"{zlib.crc32(root.encode()):08x}-{name}.json")


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _listing(folder: str, depth: int) -> list[Any]:
    """The entries that could change which agents a folder holds or what they say."""
    out: list[Any] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if depth > 0:
                    out.append([entry.name, _stat(entry.path), _listing(entry.path, depth - 1)])
            elif entry.name.endswith(AGENT_FILE_SUFFIXES):
                out.append([entry.name, _stat(entry.path)])
    return out


def fingerprint(agents_dir: str, files: list[str] | None = None) -> list[Any]:
    """What the cached router was built from (see the module docstring). OSError when the
    folder cannot be listed."""
    from switchyard.routing.static_table import data_path

    root = os.path.abspath(agents_dir)
    return [CACHE_VERSION, __version__, [_stat(p) for p in _CODE], _stat(data_path()), root,
            _stat(root), _listing(root, 1), [[f, _stat(f)] for f in files or []]]


# --- the agents, as plain data --------------------------------------------------------

def _agent_json(agent: Any) -> dict[str, Any]:
    """The fields of an AgentConfig that the router reads (agent_texts.py, rules, profiles)."""
    from switchyard.routing.agent_texts import prompt_text

    card, r = agent.agentCard, agent.routing
    return {"agentId": agent.agentId, "name": agent.name, "description": agent.description,
            "systemPrompt": prompt_text(agent), "mcpServers": list(agent.mcpServers),
            "agentCard": None if card is None else {
                "description": card.description,
                "skills": (card.model_extra or {}).get("skills")},
            "routing": {"description": r.description, "keywords": list(r.keywords),
                        "patterns": list(r.patterns), "examples": list(r.examples),
                        "fallback": bool(r.fallback)}}


def _agent_view(data: dict[str, Any]) -> SimpleNamespace:
    """An object with the attributes the router reads of an AgentConfig."""
    card = data["agentCard"]
    return SimpleNamespace(
        agentId=str(data["agentId"]), name=str(data["name"]), description=str(data["description"]),
        systemPrompt=str(data["systemPrompt"]), mcpServers=list(data["mcpServers"]),
        agentCard=None if card is None else SimpleNamespace(
            description=card["description"], model_extra={"skills": card["skills"]}),
        routing=SimpleNamespace(**{k: data["routing"][k] for k in
                                   ("description", "keywords", "patterns", "examples", "fallback")}))


# --- building, writing, reading ---------------------------------------------------------

def build(agents_dir: str, *, fallback: str | None) -> tuple[Any, dict[str, Any] | None]:
    """The router built from the files (static embeddings), and the cache's content (None
    when it cannot be written). ConfigError for an unusable folder, as build_router."""
    from switchyard.routing.cli import build_router
    from switchyard.routing import static_table

    try:
        before = fingerprint(agents_dir)  # taken first: an edit during the build invalidates
    except OSError:
        before = None
    router = build_router(agents_dir, fallback=fallback, semantic="static")
    if before is None:
        return router, None
    sources = {agent_id: str(path) for agent_id, path in router.files.items() if path}
    data: dict[str, Any] = {
        "fingerprint": before[:-1] + [fingerprint(agents_dir, list(sources.values()))[-1]],
        "agents": [_agent_json(a) for a in router.agents.values()],
        "sources": sources, "dims": None, "vectors": None, "table": None}
    try:
        if router._semantic is not None and router.embedder_kind == "static":
            rows = static_table.rows_of(router._semantic)
            data["table"] = static_table.extract_table(cache_root())
            data["dims"] = int(router._semantic._matrix.shape[1])
            data["vectors"] = {a: b2a_base64(raw, newline=False).decode("ascii") for a, raw in rows.items()}
            index = router._semantic
            weights = index._encode_kw.get("token_weights")
            data["token_weights"] = (None if weights is None
                                     else static_table.TokenWeights.of_array(weights).to_json())
            data["hub"] = {a: float(index._hub[i]) for i, a in enumerate(index.agent_ids)}
        _write(cache_file(agents_dir), json.dumps(data, default=str))
    except OSError:
        return router, None
    return router, data


def _write(path: str, text: str) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read(agents_dir: str) -> dict[str, Any] | None:
    """The cache's content when it is there, readable and current; else None."""
    try:
        with open(cache_file(agents_dir), encoding="utf-8") as fh:
            data = json.load(fh)
        if data["fingerprint"] != fingerprint(agents_dir, list(data["sources"].values())):
            return None
        return data
    except Exception:  # noqa: BLE001 - missing, unreadable or corrupt: rebuilt, never fatal
        return None


def router_from(data: dict[str, Any], *, fallback: str | None, semantic: str) -> Any:
    """The router of a cache's content. Any exception means the content does not hold
    together (the caller rebuilds); ConfigError for a bad --fallback is one of them."""
    from switchyard.routing.router import Router

    agents = [_agent_view(a) for a in data["agents"]]
    index = None
    if semantic == "static" and data["vectors"] is not None:
        from switchyard.routing.static_table import CachedSemanticIndex, TokenTable, TokenWeights, unpack_rows

        dims = int(data["dims"])
        weights = data.get("token_weights")
        index = CachedSemanticIndex({a: unpack_rows(a2b_base64(v, strict_mode=True), dims)
                                     for a, v in data["vectors"].items()}, TokenTable(data["table"]),
                                    token_weights=None if weights is None else TokenWeights.from_json(weights),
                                    hub={a: float(v) for a, v in data.get("hub", {}).items()})
        if index.embedder.dims != dims:
            raise ValueError("the cached embeddings and the token table disagree")
    router = Router(agents, fallback=fallback, semantic=semantic if semantic == "static" else False,
                    sources=data["sources"], semantic_index=index)
    router.files = dict(data["sources"])
    return router


def cached_router(agents_dir: str, *, fallback: str | None, semantic: str) -> Any:
    """The router of a folder for `semantic` "static" or "off": from the cache when it is
    current, else built from the files (and the cache rewritten)."""
    data = read(agents_dir)
    if data is not None:
        try:
            return router_from(data, fallback=fallback, semantic=semantic)
        except Exception:  # noqa: BLE001 - a cache that does not hold together is rebuilt
            pass
    router, data = build(agents_dir, fallback=fallback)
    if data is not None:
        try:
            # Route from what was cached, so that the first prompt and the next agree exactly.
            return router_from(data, fallback=fallback, semantic=semantic)
        except Exception:  # noqa: BLE001 - then the router built from the files decides
            pass
    if semantic == "static":
        return router
    from switchyard.routing.cli import build_router
    return build_router(agents_dir, fallback=fallback, semantic=False)
