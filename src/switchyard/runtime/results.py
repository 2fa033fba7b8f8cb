"""A finished run's result as callers use it: the answer, or the error that stopped it."""

from __future__ import annotations

from typing import Any

from switchyard.errors import SwitchyardError
from switchyard.events import RunResult
from switchyard.runtime.run import Run


class RunFailed(SwitchyardError):
    """The run ended without an answer: the LLM failed, or it was cancelled."""

    status = 502
    code = "run_failed"

    def __init__(self, message: str, context: dict[str, Any] | None) -> None:
        super().__init__(message, details=context)


def answer_of(result: RunResult | None) -> RunResult:
    """The result if the run answered; raises RunFailed (with the provider's context when the
    LLM failed) if it did not."""
    if result is None:
        raise RunFailed("the run ended without an answer (unknown)", None)
    if result.answered:
        return result
    if result.error is not None:
        upstream = result.error.upstream
        context = None if upstream is None else {"provider": upstream.provider, "status": upstream.status}
        failed = RunFailed(result.error.message, context)
        if result.error.error_type == "LLMQueueTimeout":
            # Our own bound on calls to the provider was full (llm/concurrency.py): the server
            # is at capacity, not the upstream failing. 503, and worth retrying shortly.
            failed.status, failed.code, failed.retry_after = 503, "llm_queue_timeout", 1
        raise failed
    raise RunFailed(f"the run ended without an answer ({result.finish_reason})", None)


def result_of(run: Run) -> dict[str, Any]:
    """The reference's message-sync body of a finished run; raises RunFailed if it failed."""
    result = answer_of(run.result)
    return {"response": result.content, "sessionId": run.session_id, "tokenUsage": result.usage.to_dict(),
            "messageId": result.message_id, "model": result.model, "provider": result.provider,
            **({"reasoning": result.reasoning} if result.reasoning else {}),
            "finishReason": result.finish_reason}
