"""Bounded retries for one model step, and the translation of provider failures to LLMError.

Why here and not in the SDKs: the SDKs' own retries are switched off (`max_retries=0`) so that
(1) a retry never happens after text was already streamed to the user (that would duplicate
it), (2) the runtime can be told about each retry (`on_retry`, for an `llm:retrying` event), and
(3) every failure leaves this module as one `LLMError` whose message is scrubbed of secrets.

The classifier is duck-typed over the two official SDKs (both are generated from the same
template: `APIStatusError.status_code/.response/.body`, `APIConnectionError`, `APITimeoutError`)
so this module imports neither.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Union

from switchyard.errors import LLMError
from switchyard.logs import redact

from .base import Delta

log = logging.getLogger(__name__)

# on_retry(attempt, delay, error): `attempt` is the number of the retry about to start (1 for
# the first retry), `delay` the seconds we will sleep first, `error` the scrubbed LLMError
# that caused it. It may be a plain function or a coroutine function.
OnRetry = Callable[[int, float, LLMError], Union[None, Awaitable[None]]]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MAX_RETRY_AFTER = 30.0  # never let an upstream make us sleep longer than this per retry

def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every known secret and anything shaped like an API key from `text` (the one
    redactor, switchyard.logs.redact)."""
    return redact(text, secrets)


@dataclass
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5   # first backoff; doubles each retry
    max_delay: float = MAX_RETRY_AFTER

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with jitter (50-100% of the nominal value, so a fleet of
        clients does not retry in lock step)."""
        nominal = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return nominal * (0.5 + random.random() / 2)


@dataclass
class UpstreamFailure:
    """What we learned from one failed attempt."""

    kind: str                  # "status" | "timeout" | "connection" | "other"
    status: int | None
    message: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "connection"):
            return True
        return self.kind == "status" and self.status in RETRYABLE_STATUS


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_message(body: Any) -> str | None:
    """The human message inside an OpenAI (`{error:{message}}`, or already the inner object)
    or Anthropic (`{type:error, error:{type, message}}`) error body."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if body.get("message"):
            return str(body["message"])
    elif isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return None


def _connection_refusal(exc: BaseException) -> str | None:
    """A failure to connect found anywhere in the exception's chain. The SDKs' aiohttp
    transport reports a refused connection as a *timeout*; the chained original says what
    really happened, and "connection refused" is the clearer error for the user."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or type(current).__name__ in (
                "ClientConnectorError", "ClientConnectorCertificateError", "ClientConnectorDNSError"):
            return f"{type(current).__name__}: {current}"
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException) -> UpstreamFailure:
    """Map an SDK / transport exception to an UpstreamFailure without importing the SDKs."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    if status is None and type(exc).__module__.startswith("google.genai"):
        status = getattr(exc, "code", None)  # google-genai's APIError: .code, .message, .response
    response = getattr(exc, "response", None)
    if isinstance(status, int) and response is not None:
        message = _body_message(getattr(exc, "body", None)) or getattr(exc, "message", None) or str(exc)
        return UpstreamFailure("status", status, message,
                               parse_retry_after(getattr(response, "headers", None)))
    refused = _connection_refusal(exc)
    if refused is not None:
        return UpstreamFailure("connection", None, f"connection error ({refused})")
    if "APITimeoutError" in names or isinstance(exc, (asyncio.TimeoutError, TimeoutError)) \
            or any("Timeout" in n for n in names):
        return UpstreamFailure("timeout", None, "request timed out")
    if "APIConnectionError" in names or isinstance(exc, ConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        return UpstreamFailure("connection", None, f"connection error{detail}")
    # Errors from the HTTP transport itself while reading a stream (e.g. the server hung up
    # mid-body) come through unwrapped.
    if type(exc).__module__.split(".")[0].startswith("httpx") or "APIError" in names:
        return UpstreamFailure("connection", None, f"{type(exc).__name__}: {exc}")
    return UpstreamFailure("other", None, f"{type(exc).__name__}: {exc}")


def to_llm_error(provider: str, failure: UpstreamFailure, *, secrets: Iterable[str | None] = (),
                 attempts: int = 1, base_url: str | None = None) -> LLMError:
    """Build the one error the rest of Switchyard sees. Never contains a key."""
    if failure.kind == "status":
        what = f"HTTP {failure.status}"
    elif failure.kind == "timeout":
        what = "timeout"
    elif failure.kind == "connection":
        what = "connection failed"
    else:
        what = "error"
    where = f" at {base_url}" if base_url else ""
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    message = f"{provider} request failed{where}{tries}: {what}: {failure.message}"
    return LLMError(scrub(message, secrets), provider=provider,
                    upstream_status=failure.status, retryable=failure.retryable)


async def stream_with_retries(
    attempt: Callable[[], AsyncIterator[Delta]],
    *,
    provider: str,
    policy: RetryPolicy,
    secrets: Iterable[str | None] = (),
    base_url: str | None = None,
    on_retry: OnRetry | None = None,
) -> AsyncIterator[Delta]:
    """Run `attempt()` (a fresh upstream stream each call), retrying retryable failures that
    happen before the first delta. Any failure after a delta was yielded is raised at once."""
    secrets = list(secrets)
    tries = 0
    while True:
        tries += 1
        yielded = False
        upstream = attempt()
        try:
            async for delta in upstream:
                yielded = True
                yield delta
            return
        except LLMError:
            raise
        except Exception as exc:  # CancelledError is a BaseException and passes through
            failure = classify(exc)
            error = to_llm_error(provider, failure, secrets=secrets, attempts=tries, base_url=base_url)
            if yielded or not failure.retryable or tries > policy.max_retries:
                # Keep the chain only for unexpected (non-transport) errors, which are bugs.
                raise error from (exc if failure.kind == "other" else None)
            delay = policy.backoff(tries)
            if failure.retry_after is not None:
                delay = min(failure.retry_after, policy.max_delay)
            log.info("llm retry %d/%d for %s in %.2fs: %s", tries, policy.max_retries, provider,
                     delay, error.message)
        finally:
            # Close the upstream stream now (and with it the HTTP response) rather than at
            # garbage collection, also when our consumer stops early.
            close = getattr(upstream, "aclose", None)
            if close is not None:
                await close()
        if on_retry is not None:
            result = on_retry(tries, delay, error)
            if inspect.isawaitable(result):
                await result
        await asyncio.sleep(delay)


class RetryingSDKClient:
    """What the SDK-backed providers share: identity, retry policy, and one streaming entry
    that runs an attempt under the retries (secrets scrubbed from every error)."""

    _client: Any  # the provider SDK's async client, set by the subclass

    def __init__(self, resolved: Any, cfg: Any, *, on_retry: OnRetry | None = None,
                 retry_policy: RetryPolicy | None = None) -> None:
        self.provider = resolved.provider
        self.model = resolved.model
        self._cfg = cfg
        self._api_key = resolved.api_key
        self._secrets: list[str] = []  # other credentials a provider holds (scrubbed too)
        self._base_url = resolved.base_url
        self._on_retry = on_retry
        self._policy = retry_policy or RetryPolicy(max_retries=cfg.maxRetries)

    def _with_retries(self, attempt: Callable[[], AsyncIterator[Any]]) -> AsyncIterator[Any]:
        return stream_with_retries(attempt, provider=self.provider, policy=self._policy,
                                   secrets=[self._api_key, *self._secrets], base_url=self._base_url,
                                   on_retry=self._on_retry)

    async def aclose(self) -> None:
        await self._client.close()
