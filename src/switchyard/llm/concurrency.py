"""At most N calls in flight per upstream provider, with a bounded wait for a free place.

Without a bound, a thousand runs each hold an upstream connection and the next message waits,
silently, for the HTTP pool (82 s in issue 17). A `ProviderGates` holds one semaphore per
provider endpoint (provider name and base URL), shared by every client of that endpoint in the
process; `BoundedClient` wraps a client so that each model step takes a place for as long as
its stream is open. A call that finds no place within the queue timeout fails at once with
`LLMQueueTimeout` (503, `llm_queue_timeout`), saying which limit to raise.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from switchyard.errors import LLMError

DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_QUEUE_TIMEOUT = 30.0


class LLMQueueTimeout(LLMError):
    status = 503
    code = "llm_queue_timeout"


class ProviderGates:
    """The semaphores, one per provider endpoint. `max_concurrency` 0 means no bound."""

    def __init__(self, max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
                 queue_timeout: float = DEFAULT_QUEUE_TIMEOUT) -> None:
        self.max_concurrency = max_concurrency
        self.queue_timeout = queue_timeout
        self._gates: dict[str, asyncio.Semaphore] = {}

    def gate(self, endpoint: str) -> asyncio.Semaphore | None:
        if self.max_concurrency <= 0:
            return None
        gate = self._gates.get(endpoint)
        if gate is None:
            gate = self._gates[endpoint] = asyncio.Semaphore(self.max_concurrency)
        return gate

    def in_flight(self, endpoint: str) -> int:
        gate = self._gates.get(endpoint)
        return 0 if gate is None else self.max_concurrency - gate._value  # noqa: SLF001


def endpoint_of(client: Any) -> str:
    """A client's upstream: its provider, and its base URL when it has one."""
    base = getattr(client, "base_url", None) or getattr(client, "_base_url", None) or ""
    return f"{client.provider}@{base}" if base else str(client.provider)


class BoundedClient:
    """`inner`, with every stream taking a place at its provider's gate first."""

    def __init__(self, inner: Any, gates: ProviderGates) -> None:
        self.inner = inner
        self.gates = gates
        self.endpoint = endpoint_of(inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def stream(self, messages: list[dict[str, Any]], tools: list[Any], **kwargs: Any) -> AsyncIterator[Any]:
        gate = self.gates.gate(self.endpoint)
        if gate is None:
            async for delta in self.inner.stream(messages, tools, **kwargs):
                yield delta
            return
        try:
            await asyncio.wait_for(gate.acquire(), timeout=self.gates.queue_timeout)
        except asyncio.TimeoutError:
            raise LLMQueueTimeout(
                f"{self.gates.max_concurrency} calls to this provider were already in progress and no "
                f"place came free within {self.gates.queue_timeout:g} s (SWITCHYARD_LLM_MAX_CONCURRENCY, "
                "SWITCHYARD_LLM_QUEUE_TIMEOUT)", provider=str(self.inner.provider), retryable=True) from None
        try:
            async for delta in self.inner.stream(messages, tools, **kwargs):
                yield delta
        finally:
            gate.release()

    async def aclose(self) -> None:
        await self.inner.aclose()
