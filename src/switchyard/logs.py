"""Logging set-up. Every record passes a redaction filter so that no secret reaches a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# The one redactor (logs, error bodies, the audit log's details, LLM error messages).
# Authorization headers, our API keys (sy_...), provider keys (sk-..., sk-ant-..., gsk_...,
# xai-..., or-...), and `apiKey: ...` / `"x-api-key": "..."` fields. A placeholder such as
# `Bearer <api-key>` is kept. Credentials inside URLs too: the user-info part
# (`http://user:pass@host`) and the values of query parameters whose names look secret
# (`?api-key=`, `&token=`, `?sig=`, `?password=`...), wherever a URL is shown (issue 17).
_SECRET_QUERY_NAME = (r"[A-Za-z0-9_.-]*(?:key|token|secret|passw(?:or)?d|pass|pwd|auth|sig|signature|"
                      r"credential|session|code)[A-Za-z0-9_.-]*")
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?!\[REDACTED\]@)[^/\s'\"<>?#]+@"), r"\1[REDACTED]@"),
    (re.compile(rf"(?i)([?&;]{_SECRET_QUERY_NAME}=)(?!\[REDACTED\])[^&#\s'\"<>]+"), r"\1[REDACTED]"),
    (re.compile(r"(?i)(authorization\s*[:=]\s*)(?:(?:bearer|basic|token)\s+)?(?!<|bearer\b|basic\b|token\b)[^\s,'\"}]+"),
     r"\1[REDACTED]"),
    (re.compile(r"(?i)\bbearer\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}"), "Bearer [REDACTED]"),
    (re.compile(r"\bsy_[A-Za-z0-9_]{16,}"), "sy_[REDACTED]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-[REDACTED]"),
    (re.compile(r"\b(?:gsk|xai|or)[-_][A-Za-z0-9_-]{12,}"), "[REDACTED]"),
    (re.compile(r"(?i)(api[_-]?key[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])[^\s,'\"}]{6,}"), r"\1[REDACTED]"),
]

# Literal secrets registered at run time (the server's own API key from the environment),
# redacted wherever they appear, whatever they look like.
_LITERALS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact this exact value from every log line from now on. Values under 8 characters
    would mangle ordinary text and are skipped (the server warns about such weak keys)."""
    if value and len(value) >= 8:
        _LITERALS.add(value)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without any registered secret, any of `secrets` (the caller knows them, e.g. the
    provider key of a failed call; 4 characters or more) or anything shaped like a key."""
    for literal in (*_LITERALS, *(s for s in secrets if s and len(s) >= 4)):
        if literal in text:
            text = text.replace(literal, "[REDACTED]")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str | None) -> str | None:
    """A URL as it may be shown: without its user-info or secret-looking query values
    (`http://[REDACTED]@host/v1?api-key=[REDACTED]&model=x`)."""
    return redact(url) if url else url


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line ({time, level, logger, message[, exc]}), redacted, for log
    collectors (`--json-logs`)."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


# For people: `serve` prints a time and level before each line; the one-shot commands print
# only what matters (a warning says so), no timestamps.
SERVER_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
COMMAND_FORMAT = "%(levelname)s: %(message)s"


def configure_logging(level: str = "info", *, fmt: str = SERVER_FORMAT, json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter(fmt, datefmt="%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "openai", "anthropic", "mcp", "aiosqlite", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
