"""Behaviour that already holds and must keep holding, on the raw wire: 5xx retried then success,
a stream cut mid-way is never retried (no duplicated tokens), a cut before the first event is,
and a stale keep-alive connection is replaced transparently."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from a2agent import APIConnectionError
from tests.conftest import Api
from tests.faults.helpers import (
    PAYLOAD,
    answer,
    collect,
    done_event,
    head_events,
    make_api,
    ok_reply,
    run,
    run_raises,
    tail_events,
    text_of,
)
from tests.faults.server import FaultServer, json_reply, respond, sse_reply

Hunt = Callable[..., None]


@pytest.mark.parametrize("statuses", [[503], [502, 500], [529, 504]], ids=lambda s: "-".join(map(str, s)))
def test_5xx_retried_then_success(mode: str, fmt: str, kind: str, statuses: list[int], server: FaultServer) -> None:
    server.script(*[json_reply({"error": {"message": "busy"}}, s) for s in statuses], ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, kind)) == "ok"
    assert server.request_count == len(statuses) + 1
    assert len(api.sleeps) == len(statuses)


@pytest.mark.parametrize("end", ["reset", "close"])
def test_stream_cut_mid_way_is_not_retried_and_tokens_not_duplicated(mode: str, fmt: str, end: str,
                                                                     server: FaultServer, hunt: Hunt) -> None:
    server.script(sse_reply(*head_events(fmt, ("o", "k")), end=end), ok_reply(fmt, "stream", "xx"))
    api = make_api(mode, server, fmt)
    sink: list[Any] = []
    exc = run_raises(api, lambda a: collect(a, sink))
    assert isinstance(exc, APIConnectionError), repr(exc)
    assert text_of(sink) == "ok"
    assert server.request_count == 1 and api.sleeps == []
    hunt(exc)


@pytest.mark.parametrize("end", ["reset", "close"])
def test_stream_cut_before_the_first_event_is_retried(mode: str, fmt: str, end: str, server: FaultServer) -> None:
    server.script(sse_reply(end=end), ok_reply(fmt, "stream"))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "ok"
    assert server.request_count == 2 and len(api.sleeps) == 1


def test_json_body_cut_is_retried(mode: str, fmt: str, server: FaultServer) -> None:
    server.script(respond(200, b'{"id": "chatcmpl-1", "choi', end="reset"), ok_reply(fmt, "json"))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "json")) == "ok"
    assert server.request_count == 2 and len(api.sleeps) == 1


def test_stale_keep_alive_connection_reconnects_transparently(mode: str, fmt: str, kind: str,
                                                              server: FaultServer) -> None:
    server.script(ok_reply(fmt, kind, end="finish+close"), ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)

    async def action(a: Api) -> tuple[str, bool, str]:
        first = await answer(a, kind)
        # Let the server close the idle connection before the next call picks it from the pool.
        closed = await asyncio.to_thread(server.wait_until, lambda: server.connections[0].closed.is_set(), 10.0)
        return first, closed, await answer(a, kind)

    first, closed, second = run(api, action)
    assert (first, closed, second) == ("ok", True, "ok")
    assert server.request_count == 2 and server.connection_count == 2
    assert api.sleeps == [], "a stale pooled connection must be replaced without a retry back-off"


def test_keep_alive_connection_is_reused(mode: str, fmt: str, kind: str, server: FaultServer) -> None:
    server.always(ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)

    async def action(a: Api) -> list[str]:
        return [await answer(a, kind) for _ in range(3)]

    assert run(api, action) == ["ok", "ok", "ok"]
    assert server.request_count == 3 and server.connection_count == 1


def test_slow_but_steady_stream_is_fine(mode: str, fmt: str, server: FaultServer) -> None:
    server.always(sse_reply(*head_events(fmt, ("s", "l", "o", "w")), *tail_events(fmt), done_event(fmt),
                            chunk_delay=0.02))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "slow"


def test_payload_sent_once_per_attempt_and_unchanged(mode: str, fmt: str, server: FaultServer) -> None:
    server.script(json_reply({}, 503), ok_reply(fmt, "json"))
    api = make_api(mode, server, fmt)
    payload = {**PAYLOAD, "temperature": 0.5}
    assert run(api, lambda a: answer(a, "json", payload)) == "ok"
    assert server.requests[0].body == server.requests[1].body
    assert server.requests[0].json()["temperature"] == 0.5


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
def test_compressed_bodies_are_decoded(mode: str, fmt: str, kind: str, encoding: str, server: FaultServer) -> None:
    """The client asks for gzip/deflate: a compressed JSON body or event stream reads as the plain one
    (the owned sync pool reads httpcore's responses itself and hands compressed ones to httpx)."""
    import gzip
    import zlib

    from tests.faults.helpers import completion_body, stream_events

    def pack(data: bytes) -> bytes:
        return {"gzip": gzip.compress, "deflate": zlib.compress, "identity": bytes}[encoding](data)

    headers = {"Content-Encoding": encoding}
    if kind == "json":
        server.always(respond(200, pack(json.dumps(completion_body(fmt, "squeezed")).encode()), headers=headers))
    else:
        data = pack("".join(stream_events(fmt, tuple("squeezed"))).encode())
        server.always(respond(200, headers=headers, content_type="text/event-stream",
                              chunks=[data[: len(data) // 2], data[len(data) // 2:]]))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, kind)) == "squeezed"
    assert "gzip" in server.requests[0].headers["accept-encoding"]


def test_requests_carry_the_headers_httpx_would_send(mode: str, fmt: str, kind: str, server: FaultServer) -> None:
    """The owned pools build httpcore's request themselves, with the headers httpx would send (Host
    first, Content-Length of the body, the client's own)."""
    server.always(ok_reply(fmt, kind))
    api = make_api(mode, server, fmt, default_headers={"X-Team": "blue"})
    run(api, lambda a: answer(a, kind))
    request = server.requests[0]
    names = [name.lower() for name, _ in request.raw_headers]
    assert names[0] == "host" and request.headers["host"] == server.base_url.split("/")[2]
    assert int(request.headers["content-length"]) == len(request.body) > 0
    assert request.headers["x-team"] == "blue" and request.headers["authorization"].startswith("Bearer ")
    assert request.headers["content-type"] == "application/json" and "user-agent" in request.headers
    assert request.headers["accept"] == ("text/event-stream" if kind == "stream" else "application/json")
    assert len(names) == len(set(names)), names  # no header twice


@pytest.mark.parametrize("where", ["default", "per call"])
def test_a_host_header_given_by_the_caller_replaces_the_url_s(mode: str, fmt: str, kind: str, where: str,
                                                              server: FaultServer) -> None:
    """As httpx does: a virtual host reached at another address (was "multiple Host headers")."""
    server.always(ok_reply(fmt, kind))
    given = {"host": "gateway.internal"}
    api = make_api(mode, server, fmt, **({"default_headers": given} if where == "default" else {}))
    assert run(api, lambda a: answer(a, kind, **({"headers": given} if where == "per call" else {}))) == "ok"
    request = server.requests[0]
    hosts = [value for name, value in request.raw_headers if name.lower() == "host"]
    assert hosts == ["gateway.internal"] and request.raw_headers[0][0].lower() == "host"
