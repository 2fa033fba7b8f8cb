"""The [semantic] model as the bench's export and distillation scripts read it: its directory
and a sentence-transformers instance on the CPU, offline, two torch threads (the machine's two
cores: these scripts run alone)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def load_teacher() -> tuple[Path, Any] | None:
    """(model directory, SentenceTransformer), or None after saying why on stderr."""
    os.environ["HF_HUB_OFFLINE"] = "1"   # before huggingface_hub is imported
    import torch
    from sentence_transformers import SentenceTransformer

    from switchyard.routing import semantic

    torch.set_num_threads(2)
    path = semantic.model_path()
    if path is None:
        print(semantic.unavailable_reason(), file=sys.stderr)
        return None
    return path, SentenceTransformer(str(path), device="cpu")
