"""Which embeddings the router's semantic layer uses, and how explanations name them.

In order of preference: the sentence-transformers model directory named by
SWITCHYARD_ROUTER_MODEL (semantic.py; [semantic] extra), when set; all-MiniLM-L6-v2 run in
numpy from the weights shipped in the package (minilm.py); the same model through sentence-transformers when the shipped weights are missing
and the [semantic] extra is installed (semantic.py); the static token embeddings distilled
from it (static.py); none. The numpy encoder comes first because its vectors are the torch
model's (cosine >= 0.996 on 1,349 texts), it loads in a fraction of the time and needs no
torch (bench/routing/RESULTS.md, round 7).
"""

from __future__ import annotations

from switchyard.errors import ConfigError

TYPE_CHECKING = False  # typing is not imported at run time (the hook's path imports router.py)
if TYPE_CHECKING:
    from typing import Any


def resolve_embedder(semantic: Any) -> tuple[Any, str, str | None]:
    """(embedder, profile kind, note) for `semantic` = "auto" | True | "static": "auto" and
    True take the full model (numpy, else sentence-transformers), "auto" then the static
    embeddings; True raises ConfigError when neither full-model path is there; "static" forces
    the static embeddings. `note` says why the layer is weaker than the default, or off."""
    from switchyard.routing import minilm, static  # numpy itself only when an encoder loads
    from switchyard.routing import semantic as semantic_mod

    minilm_reason = minilm.unavailable_reason()
    if semantic != "static":
        # A model the user named (SWITCHYARD_ROUTER_MODEL, through sentence-transformers) comes
        # first; one that cannot be used is an error even with "auto": quietly routing with
        # another model would hide a typo.
        if semantic_mod.configured_model() is not None:
            return _torch_model(semantic_mod, required=True), "full", None
        if minilm_reason is None:
            return minilm.NumpyMiniLM(), "full", None
        torch_model = _torch_model(semantic_mod, required=semantic is True, also=minilm_reason)
        if torch_model is not None:
            return torch_model, "full", None
    static_reason = static.unavailable_reason()
    if static_reason is None:
        note = None if semantic == "static" else f"static embeddings only: {minilm_reason}"
        return static.StaticEmbedder(), "static", note
    return None, "none", f"semantic layer off: {static_reason}"


def _torch_model(semantic_mod: Any, *, required: bool, also: str | None = None) -> Any:
    """The sentence-transformers model (semantic.py), or None when it is not installed and not
    `required`; a ConfigError naming why when it is required, or installed but does not load."""
    reason = semantic_mod.unavailable_reason()
    if reason is None:
        try:
            return semantic_mod.LocalEmbedder()
        except RuntimeError as exc:  # a model directory whose files do not load
            raise ConfigError(f"the semantic model cannot be loaded: {exc}",
                              issues=[{"file": None, "path": "semantic", "message": str(exc)}]) from exc
    if not required:
        return None
    reason = f"{also}; {reason}" if also else reason
    raise ConfigError(f"semantic routing was requested but is unavailable: {reason}",
                      issues=[{"file": None, "path": "semantic", "message": reason}])


def semantic_label(embedder: Any) -> str:
    """A short name for explanations: the embedder's `label`, else its `name`."""
    return str(getattr(embedder, "label", None) or getattr(embedder, "name", "custom embedder"))
