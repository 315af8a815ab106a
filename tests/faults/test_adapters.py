"""The same faults through the adapters: ``ChatA2Agent`` (invoke/stream, ainvoke/astream) and
``A2AgentLLM`` (chat/stream_chat, achat/astream_chat) surface the core's typed, key-free errors and
end streams at their end marker. Adapters have no fake sleep, so these scenarios avoid retries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import a2agent
from a2agent import AuthenticationError, InvalidInputError, RateLimitError, StreamError
from tests.faults.helpers import (
    HANG_BOUND,
    KEY,
    bounded,
    error_event,
    head_events,
    ok_reply,
    stream_events,
)
from tests.faults.server import FaultServer, Request, Step, json_reply, sse_reply

Hunt = Callable[..., None]
ADAPTERS = ["langchain", "llama_index"]


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_llm(adapter: str, server: FaultServer, fmt: str, **kw: Any) -> Any:
    kw.setdefault("timeout", 30)
    if adapter == "langchain":
        from langchain_a2agent import ChatA2Agent

        return ChatA2Agent(model="glm-5", api_key=KEY, base_url=server.base_url, api_format=fmt, **kw)
    from llama_index_a2agent import A2AgentLLM

    return A2AgentLLM(model="glm-5", api_key=KEY, api_base=server.base_url, api_format=fmt, **kw)


async def _ask(llm: Any, adapter: str, mode: str, kind: str, **kw: Any) -> str:
    """The answer text of one call through the adapter, in the given mode and kind."""
    if adapter == "langchain":
        if kind == "json":
            message = llm.invoke("hi", **kw) if mode == "sync" else await llm.ainvoke("hi", **kw)
            return str(message.text)
        chunks = list(llm.stream("hi", **kw)) if mode == "sync" else [c async for c in llm.astream("hi", **kw)]
        return "".join(str(c.text) for c in chunks)
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content="hi")]
    if kind == "json":
        response = llm.chat(messages, **kw) if mode == "sync" else await llm.achat(messages, **kw)
        return str(response.message.content)
    if mode == "sync":
        responses = list(llm.stream_chat(messages, **kw))
    else:
        responses = [r async for r in await llm.astream_chat(messages, **kw)]
    return "".join(r.delta or "" for r in responses)


def ask(llm: Any, adapter: str, mode: str, kind: str, timeout: float = 15.0, **kw: Any) -> str:
    return bounded(lambda: asyncio.run(_ask(llm, adapter, mode, kind, **kw)), timeout)


def ask_raises(llm: Any, adapter: str, mode: str, kind: str, **kw: Any) -> BaseException:
    try:
        ask(llm, adapter, mode, kind, **kw)
    except pytest.fail.Exception:
        raise
    except BaseException as exc:
        return exc
    pytest.fail("no exception was raised")


def test_adapter_smoke(adapter: str, mode: str, fmt: str, kind: str, server: FaultServer) -> None:
    server.always(ok_reply(fmt, kind))
    assert ask(make_llm(adapter, server, fmt), adapter, mode, kind) == "ok"
    assert server.request_count == 1


def _echo_401(request: Request) -> list[Step]:
    auth = request.headers.get("authorization", "")
    return json_reply({"error": {"message": f"Invalid API key: {auth}", "param": KEY}}, 401,
                      headers={"x-echo": auth, "x-request-id": "req-1"})


def test_status_error_typed_and_scrubbed(adapter: str, mode: str, fmt: str, kind: str, server: FaultServer,
                                         hunt: Hunt) -> None:
    server.always(_echo_401)
    exc = ask_raises(make_llm(adapter, server, fmt), adapter, mode, kind)
    assert isinstance(exc, AuthenticationError), repr(exc)
    assert exc.request_id == "req-1" and exc.attempts == 1
    assert server.request_count == 1
    hunt(exc)


def test_stream_error_event_typed_and_scrubbed(adapter: str, mode: str, fmt: str, server: FaultServer,
                                               hunt: Hunt) -> None:
    server.always(sse_reply(*head_events(fmt), error_event(fmt, f"bad key {KEY}")))
    exc = ask_raises(make_llm(adapter, server, fmt, max_retries=0), adapter, mode, "stream")
    assert isinstance(exc, StreamError), repr(exc)
    hunt(exc)


def test_non_completion_200_is_api_response_error(adapter: str, mode: str, fmt: str, kind: str,
                                                  server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply({"detail": f"token {KEY} is invalid"}))
    exc = ask_raises(make_llm(adapter, server, fmt, max_retries=0), adapter, mode, kind)
    assert isinstance(exc, a2agent.APIResponseError), repr(exc)
    hunt(exc)


def test_exhausted_balance_429_not_retried(adapter: str, mode: str, fmt: str, kind: str, server: FaultServer,
                                           hunt: Hunt) -> None:
    server.script(json_reply({"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}, 429),
                  ok_reply(fmt, kind))
    exc = ask_raises(make_llm(adapter, server, fmt, max_retries=2), adapter, mode, kind)
    assert isinstance(exc, RateLimitError), repr(exc)
    assert exc.is_quota_exhausted is True
    assert server.request_count == 1
    hunt(exc)


def test_stream_ends_at_end_marker_with_connection_left_open(adapter: str, mode: str, fmt: str,
                                                             server: FaultServer) -> None:
    server.always(sse_reply(*stream_events(fmt), end="hang"))
    llm = make_llm(adapter, server, fmt, timeout=30)
    assert ask(llm, adapter, mode, "stream", timeout=HANG_BOUND) == "ok"
    assert server.request_count == 1


def test_non_finite_call_kwarg_refused_before_sending(adapter: str, mode: str, kind: str, server: FaultServer,
                                                      hunt: Hunt) -> None:
    server.always(ok_reply("openai", kind))
    exc = ask_raises(make_llm(adapter, server, "openai"), adapter, mode, kind, temperature=float("nan"))
    assert isinstance(exc, InvalidInputError), repr(exc)
    assert "temperature" in str(exc)
    assert server.request_count == 0
    hunt(exc)
