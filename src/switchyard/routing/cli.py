"""`switchyard route`: print the router's decision for a message, or evaluate a labelled
JSONL file. The top-level CLI calls `route_main`; exit code 0 on success, 2 on a usage or
configuration error (with the error on stderr)."""

from __future__ import annotations

import sys
from pathlib import Path

from switchyard.config.folder import check_unique_ids, scan_folder
from switchyard.config.loader import LoadedAgent, load_agent
from switchyard.errors import SwitchyardError

def load_agents_dir(agents_dir: str | Path) -> list[LoadedAgent]:
    """Every agent of a folder, found and named as `switchyard serve --agents` finds and names
    them (config/folder.py). The router needs their descriptions, not their models: an unset
    environment variable (an API key, say) does not stop it."""
    scan = scan_folder(agents_dir)
    loaded = [load_agent(f.path, log_warnings=False, allow_unset=True, agent_id=f.registry_id)
              for f in scan.files]
    for item, entry in zip(loaded, scan.files):
        if entry.description and not item.config.description:
            item.config.routing.description = entry.description
    check_unique_ids(loaded)
    return loaded


def build_router(agents_dir: str | Path, *, fallback: str | None = None,
                 semantic: str | bool = "auto", **kwargs):
    from switchyard.routing.router import Router

    loaded = load_agents_dir(agents_dir)
    sources = {la.config.agentId: la.path or "" for la in loaded}
    router = Router([la.config for la in loaded], fallback=fallback,
                    semantic=_semantic_flag(semantic), sources=sources, **kwargs)
    router.files = sources  # agentId -> its file, for `route --hook` to say how to reach it
    return router


def _semantic_flag(value: str | bool) -> str | bool:
    if isinstance(value, bool) or value in ("auto", "static"):
        return value
    lowered = str(value).lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"--semantic must be auto, on, static or off, got {value!r}")


def route_main(text: str | None, agents_dir: str, eval_file: str | None,
               fallback: str | None, semantic: str) -> int:
    from switchyard.routing import eval as evaluation

    if (text is None) == (eval_file is None):
        print("switchyard route: give either a message or --eval FILE.jsonl (not both)", file=sys.stderr)
        return 2
    try:
        router = build_router(agents_dir, fallback=fallback, semantic=semantic)
        if eval_file is not None:
            cases = evaluation.load_cases(eval_file, known_agents=router.agents)
            result = evaluation.evaluate(router, cases)
            print(evaluation.format_report(result, title=(
                f"{len(cases)} messages, {len(router.agents)} agents, layers: "
                f"{'+'.join(router.layers)}, fallback: {router.fallback or 'none'}")))
            if router.semantic_note:
                print(f"note: {router.semantic_note}")
            return 0
        if not text.strip():
            print("switchyard route: the message is empty", file=sys.stderr)
            return 2
        decision = router.route_sync(text)
    except ValueError as exc:
        print(f"switchyard route: {exc}", file=sys.stderr)
        return 2
    except SwitchyardError as exc:
        print(f"switchyard route: {exc}", file=sys.stderr)
        return 2
    print(f"agent: {decision.agent_id}")
    print(f"confidence: {decision.confidence:.2f} (layer: {decision.layer})")
    print(f"reason: {decision.reason}")
    print("ranking:")
    for entry in decision.ranked[:5]:
        layers = ", ".join(f"{k} {v:.2f}" for k, v in entry.layers.items())
        print(f"  {entry.agent_id:<20} {entry.score:.3f}  ({layers})")
    print(f"decided in {decision.latency_ms:.2f} ms")
    if router.semantic_note:
        print(f"note: {router.semantic_note}")
    return 0
