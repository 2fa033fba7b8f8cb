"""JSON-RPC batches on /jsonrpc, bounded (issue 17: a 20 KB batch of 300 `tasks/list` calls made
a 241 MB response). A batch may hold at most MAX_BATCH calls; each call counts against the
caller's rate limits like a request of its own; the answers stop growing at
MAX_RESPONSE_BYTES (the calls past that point are answered with an error, not run)."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from switchyard.server.protocols.a2a_model import INTERNAL_ERROR, INVALID_REQUEST
from switchyard.server.security.ratelimit import charge_extra

MAX_BATCH = 20
MAX_RESPONSE_BYTES = 8 * 1024 * 1024

RunOne = Callable[[Any], Awaitable[Any]]


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _id_of(item: Any) -> Any:
    request_id = item.get("id") if isinstance(item, dict) else None
    return request_id if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) else None


async def run_batch(request: Request, items: list[Any], run_one: RunOne) -> Response:
    if not items:
        return JSONResponse(_error(None, INVALID_REQUEST, "Invalid Request: empty batch"))
    if len(items) > MAX_BATCH:
        return JSONResponse(_error(None, INVALID_REQUEST,
                                   f"Invalid Request: a batch of {len(items)} calls is over the limit of "
                                   f"{MAX_BATCH}", {"limit": MAX_BATCH}))
    retry = await charge_extra(request.scope, len(items) - 1)
    if retry is not None:
        return JSONResponse({"error": "Too Many Requests", "code": "rate_limited",
                             "message": f"Rate limit exceeded: this batch of {len(items)} calls counts as "
                                        f"{len(items)} requests. Retry after {retry} s."},
                            status_code=429, headers={"retry-after": str(retry)})
    # One call at a time, so that the answers held in memory never pass the budget.
    answers: list[bytes] = []
    size = 2
    for item in items:
        if size > MAX_RESPONSE_BYTES:
            answer: Any = _error(_id_of(item), INTERNAL_ERROR,
                                 f"Response too large: the batch's answers reached {MAX_RESPONSE_BYTES} "
                                 "bytes; send this call again on its own or ask for smaller pages")
        else:
            answer = await run_one(item)
            if answer is None:
                continue
        encoded = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
        size += len(encoded) + 1
        answers.append(encoded)
    if not answers:
        return Response(status_code=204)
    return Response(b"[" + b",".join(answers) + b"]", media_type="application/json")
