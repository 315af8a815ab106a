"""Shared pieces of the fault tests: the planted key, wire fixtures per format, bounded runners and
``assert_no_key``, the exhaustive hunt for the key in everything an error carries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import pytest

from tests.conftest import Api
from tests.faults.server import FaultServer, Step, json_reply, sse_reply
from tests.keyhunt import assert_no_key as _assert_no_key

T = TypeVar("T")

# A distinctive planted key: 24 random-looking letters after a recognisable prefix.
KEY = "sk-PLANTED-" + "qZxWvRtYpLmNbKjHgFdSaQeU"
assert len(KEY) == 35
# Halves of the random tail: finding one of them means a truncated key leaked (e.g. ``text[:200]``).
KEY_PARTS = (KEY[11:23], KEY[23:])

BOUND = 15.0  # generous guard against hangs; never a measurement
HANG_BOUND = 10.0  # a stream must return long before this after its end marker (client timeout: 30 s)
MODEL = "glm-5"
PAYLOAD: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


# -- wire fixtures, per format -----------------------------------------------------------------
def completion_body(fmt: str, text: str = "ok") -> dict[str, Any]:
    """A complete non-streamed success body in the wire format."""
    if fmt == "openai":
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": dict(USAGE)}
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 2}}


def openai_event(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def anthropic_event(obj: Mapping[str, Any]) -> str:
    return f"event: {obj['type']}\ndata: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def head_events(fmt: str, texts: tuple[str, ...] = ("o", "k")) -> list[str]:
    """The opening events of a stream carrying ``texts`` (no finish, no end marker)."""
    if fmt == "openai":
        events = []
        for i, text in enumerate(texts):
            delta = {"role": "assistant", "content": text} if i == 0 else {"content": text}
            events.append(openai_event(_chunk(delta)))
        return events
    events = [anthropic_event({"type": "message_start", "message": {
                  "id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "content": [],
                  "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 0}}}),
              anthropic_event({"type": "content_block_start", "index": 0,
                               "content_block": {"type": "text", "text": ""}})]
    events += [anthropic_event({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": text}}) for text in texts]
    return events


def tail_events(fmt: str) -> list[str]:
    """Finish reason and usage, without the end marker."""
    if fmt == "openai":
        usage_chunk = {**_chunk({}), "choices": [], "usage": dict(USAGE)}
        return [openai_event(_chunk({}, "stop")), openai_event(usage_chunk)]
    return [anthropic_event({"type": "content_block_stop", "index": 0}),
            anthropic_event({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": 2}})]


def done_event(fmt: str) -> str:
    return "data: [DONE]\n\n" if fmt == "openai" else anthropic_event({"type": "message_stop"})


def stream_events(fmt: str, texts: tuple[str, ...] = ("o", "k")) -> list[str]:
    """A complete successful stream."""
    return [*head_events(fmt, texts), *tail_events(fmt), done_event(fmt)]


def ok_reply(fmt: str, kind: str, text: str = "ok", **kw: Any) -> list[Step]:
    """A successful reply for a JSON (``kind="json"``) or streamed request."""
    if kind == "json":
        return json_reply(completion_body(fmt, text), **kw)
    return sse_reply(*stream_events(fmt, tuple(text)), **kw)


def error_event(fmt: str, message: str) -> str:
    if fmt == "openai":
        return openai_event({"error": {"message": message, "type": "invalid_request_error", "code": None}})
    return anthropic_event({"type": "error", "error": {"type": "x", "message": message}})


# -- clients -------------------------------------------------------------------------------------
def make_api(mode: str, server: FaultServer | None, fmt: str = "openai", **kw: Any) -> Api:
    """A sync or async core client on the fault server, with the fake sleep of ``tests.conftest.Api``."""
    kw.setdefault("api_key", KEY)
    if server is not None:
        kw.setdefault("base_url", server.base_url)
    kw.setdefault("timeout", 30)
    kw.setdefault("limiter", False)  # these tests pin the retry policy itself (tests/test_limiter*.py: the limiter)
    return Api(mode, api_format=fmt, **kw)


def text_of(chunks: list[Any]) -> str:
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))


async def answer(api: Api, kind: str, payload: Mapping[str, Any] = PAYLOAD, **kw: Any) -> str:
    """The assistant text of one JSON or streamed call."""
    if kind == "json":
        completion = await api.chat(dict(payload), **kw)
        return str(completion["choices"][0]["message"]["content"])
    return text_of(await api.stream(dict(payload), **kw))


async def collect(api: Api, sink: list[Any], payload: Mapping[str, Any] = PAYLOAD) -> None:
    """Stream into ``sink`` chunk by chunk, so a test sees what arrived before an error."""
    if api.mode == "sync":
        with api.client.stream_chat_completions(dict(payload)) as stream:
            for chunk in stream:
                sink.append(chunk)
    else:
        async with api.client.stream_chat_completions(dict(payload)) as stream:
            async for chunk in stream:
                sink.append(chunk)


def bounded(fn: Callable[[], T], timeout: float = BOUND) -> T:
    """Run ``fn`` in a daemon thread; fail the test (instead of hanging) if it has not finished in time.

    The fault server's teardown closes every socket, so an abandoned thread ends soon after.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="fault-client", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"the client call did not finish within {timeout} s (hang guard)")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def run(api: Api, action: Callable[[Api], Awaitable[T]], timeout: float = BOUND) -> T:
    """``await action(api)`` on a fresh event loop in a bounded thread, then close the client on that loop."""
    async def main() -> T:
        try:
            return await action(api)
        finally:
            with contextlib.suppress(Exception):
                await api.close()

    return bounded(lambda: asyncio.run(main()), timeout)


def run_raises(api: Api, action: Callable[[Api], Awaitable[Any]], timeout: float = BOUND) -> BaseException:
    """Like ``run`` but the action must raise; returns the exception (any type: the caller checks it)."""
    try:
        run(api, action, timeout)
    except pytest.fail.Exception:
        raise
    except BaseException as exc:
        return exc
    pytest.fail("no exception was raised")


# -- the hunt for the key ------------------------------------------------------------------------
def assert_no_key(exc: BaseException | None, key: str = KEY, **kwargs: Any) -> None:
    """``keyhunt.assert_no_key`` for the planted key: half of its random tail counts as a leak too."""
    _assert_no_key(exc, key, parts=KEY_PARTS if key == KEY else (), **kwargs)


def debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every logger at DEBUG (httpx, httpcore, a2agent, langchain, llama_index, ...)."""
    caplog.set_level(logging.DEBUG)
    for name in ("a2agent", "httpx", "httpcore", "langchain_a2agent", "llama_index_a2agent"):
        caplog.set_level(logging.DEBUG, logger=name)
