"""Bounded in time (contract g, h): streams end at their end marker even when the connection stays
open, and Retry-After is honoured, capped, and never turned into a hot retry loop.

Nothing here measures wall-clock time: waits are read from the injected fake sleep, and the
server counts requests and sees connections closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from a2agent import RateLimitError
from tests.conftest import Api
from tests.faults.helpers import (
    HANG_BOUND,
    PAYLOAD,
    answer,
    make_api,
    ok_reply,
    run,
    run_raises,
    stream_events,
    text_of,
)
from tests.faults.server import FaultServer, json_reply, sse_reply

Hunt = Callable[..., None]
RATE_BODY = {"error": {"message": "Rate limit reached for requests", "type": "rate_limit_error",
                       "code": "rate_limit_exceeded"}}


# -- (g) end marker received, connection left open ------------------------------------------------
@pytest.mark.parametrize("consume", ["iterate", "final"])
def test_stream_returns_at_end_marker_although_the_body_never_ends(mode: str, fmt: str, consume: str,
                                                                   server: FaultServer) -> None:
    server.script(sse_reply(*stream_events(fmt), end="hang"))  # [DONE] / message_stop, then nothing, forever
    api = make_api(mode, server, fmt, timeout=30)

    async def action(a: Api) -> tuple[str, bool]:
        if consume == "iterate":
            text = text_of(await a.stream(dict(PAYLOAD)))
        else:
            final = await a.stream_final(dict(PAYLOAD))
            text = final["choices"][0]["message"]["content"]
        # Still inside the client's lifetime (before close()): the abandoned connection must be gone.
        closed = await asyncio.to_thread(server.wait_client_closed, 0, HANG_BOUND)
        return text, closed

    text, closed = run(api, action, timeout=2 * HANG_BOUND)
    assert text == "ok"
    assert closed, "the client kept the unfinished response's connection open after the end marker"
    assert server.request_count == 1


def test_stream_end_marker_then_hang_then_next_call_works(mode: str, fmt: str, server: FaultServer) -> None:
    """The connection left hanging is not put back in the pool: the next call gets a working one."""
    server.script(sse_reply(*stream_events(fmt), end="hang"), ok_reply(fmt, "json"))
    api = make_api(mode, server, fmt, timeout=30)

    async def action(a: Api) -> tuple[str, str]:
        return text_of(await a.stream(dict(PAYLOAD))), await answer(a, "json")

    assert run(api, action, timeout=2 * HANG_BOUND) == ("ok", "ok")
    assert server.request_count == 2 and server.connection_count == 2


# -- (h) Retry-After --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "sleeps"),
    [({"retry-after-ms": "20"}, [0.02]), ({"retry-after-ms": "1234"}, [1.234]), ({"Retry-After": "1"}, [1.0]),
     ({"Retry-After": "120"}, [120.0]), ({"retry-after-ms": "1500", "Retry-After": "9"}, [1.5])],
    ids=["ms_20", "ms_1234", "seconds_1", "seconds_at_cap", "ms_wins"],
)
def test_retry_after_is_honoured(mode: str, fmt: str, kind: str, headers: dict[str, str], sleeps: list[float],
                                 server: FaultServer) -> None:
    server.script(json_reply(RATE_BODY, 429, headers=headers), ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, kind)) == "ok"
    assert api.sleeps == pytest.approx(sleeps)
    assert server.request_count == 2


@pytest.mark.parametrize("header", [{"Retry-After": "300"}, {"retry-after-ms": "300000"}], ids=["seconds", "ms"])
def test_retry_after_beyond_the_cap_is_not_waited(mode: str, fmt: str, kind: str, header: dict[str, str],
                                                  server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply(RATE_BODY, 429, headers=header))
    api = make_api(mode, server, fmt, max_retries=3)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, RateLimitError), repr(exc)
    assert exc.retry_after == 300.0
    assert server.request_count == 1 and api.sleeps == []
    hunt(exc)


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "0"}, {"retry-after-ms": "0"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
     {"Retry-After": "soon"}, {"Retry-After": "-5"}],
    ids=["zero", "zero_ms", "date_in_the_past", "garbage", "negative"],
)
def test_useless_retry_after_falls_back_to_backoff(mode: str, fmt: str, kind: str, headers: dict[str, str],
                                                   server: FaultServer) -> None:
    server.script(json_reply(RATE_BODY, 429, headers=headers), ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, kind)) == "ok"
    assert len(api.sleeps) == 1
    assert 0.375 <= api.sleeps[0] <= 0.5, f"first retry must back off 0.5 s minus <= 25 % jitter, got {api.sleeps}"
    assert server.request_count == 2


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_429_storm_ends_in_one_rate_limit_error(mode: str, fmt: str, kind: str, max_retries: int,
                                                server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply(RATE_BODY, 429))
    api = make_api(mode, server, fmt, max_retries=max_retries)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, RateLimitError), repr(exc)
    assert server.request_count == max_retries + 1
    assert len(api.sleeps) == max_retries
    assert all(s > 0.3 for s in api.sleeps), api.sleeps
    assert exc.attempts == max_retries + 1
    assert exc.is_quota_exhausted is False
    hunt(exc)


def test_429_storm_with_retry_after_sleeps_what_the_server_asks(mode: str, server: FaultServer) -> None:
    server.always(json_reply(RATE_BODY, 429, headers={"Retry-After": "2"}))
    api = make_api(mode, server, max_retries=2)
    exc: Any = run_raises(api, lambda a: answer(a, "json"))
    assert isinstance(exc, RateLimitError)
    assert api.sleeps == [2.0, 2.0] and server.request_count == 3
