"""The shared test helpers themselves: the SSE reader, the port helpers, the fake LLM's
default reply, stamped chunks and bounded request log (tests/support)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.support.fake_llm import FakeLLM, Stamped, Text
from tests.support.net import closed_port_url, free_port, wait_for_port
from tests.support.sse import iter_sse, sse_events


def test_sse_reader_pairs_events_skips_comments_and_keeps_non_json_data():
    body = (b": keep-alive\n\n"
            b"event: llm:chunk\ndata: {\"text\": \"a\"}\n\n"
            b"data: {\"n\": 1}\n\n"
            b"data: [DONE]\n\n"
            b"event: last\ndata: {\"x\":\ndata: 2}\n")  # two data lines, no blank line at the end
    events = sse_events(httpx.Response(200, content=body))
    assert events == [("llm:chunk", {"text": "a"}), ("message", {"n": 1}), ("message", "[DONE]"),
                      ("last", {"x": 2})]
    assert next(iter_sse(httpx.Response(200, content=b"event: only\n\n"))) == ("only", {})


def test_port_helpers():
    port = free_port()
    assert 0 < port < 65536
    with pytest.raises(httpx.ConnectError):
        httpx.get(closed_port_url("/v1/models"))
    with pytest.raises(RuntimeError, match=f"nothing listens on port {port}"):
        wait_for_port(port, timeout=0.2)


def chat(fake: FakeLLM, content: str) -> list:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": content}]}
    with httpx.stream("POST", fake.base_url + "/chat/completions", json=body) as r:
        return [data for _, data in iter_sse(r)]


def test_fake_llm_default_reply_stamped_chunks_and_bounded_log():
    def default(body):
        if body["messages"][-1]["content"] == "stamp":
            return Stamped(chunks=3, chunk_delay=0.01)
        return Text("plain reply", chunks=2)

    with FakeLLM(default=default, keep_requests=2) as fake:
        chunks = chat(fake, "hello")
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c != "[DONE]") == "plain reply"
        before = time.time_ns()
        chunks = chat(fake, "stamp")
        stamps = [int(s) for c in chunks if c != "[DONE]"
                  for s in re.findall(r"<(\d+)>", c["choices"][0]["delta"].get("content", ""))]
        assert len(stamps) == 3 and before <= stamps[0] < stamps[1] < stamps[2] <= time.time_ns()
        chat(fake, "third")
        assert [r["json"]["messages"][-1]["content"] for r in fake.requests] == ["stamp", "third"]
