"""Bursts on a long-lived async client (the owned pool, ``a2agent/_pool.py``). Counted server-side
and in hand-overs of connections to requests, never timed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpcore
import pytest

import a2agent._transport as transport
from a2agent import APITimeoutError, AsyncA2AgentClient
from tests.faults.helpers import KEY, PAYLOAD, bounded, ok_reply, text_of
from tests.faults.server import FaultServer, Request, Step, closed_port

BURST = 24


async def _stream(client: AsyncA2AgentClient, **kw: Any) -> str:
    async with client.stream_chat_completions(dict(PAYLOAD), **kw) as stream:
        return text_of([c async for c in stream])


def _barrier(server: FaultServer, reply: list[Step]) -> Callable[[Request], list[Step]]:
    """Each reply waits until the whole burst has arrived: every request of a burst is in flight at once."""
    def hold(request: Request) -> list[Step]:
        burst_end = (server.request_count + BURST - 1) // BURST * BURST
        assert server.wait_until(lambda: server.request_count >= burst_end, 10)
        return reply
    return hold


@pytest.fixture
def handovers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts each time a request is handed a connection (httpcore's connection-level send)."""
    count = [0]
    send = httpcore.AsyncHTTPConnection.handle_async_request

    async def counted(self: httpcore.AsyncHTTPConnection, request: httpcore.Request) -> httpcore.Response:
        count[0] += 1
        return await send(self, request)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "handle_async_request", counted)
    return count


def test_a_second_burst_runs_on_the_first_bursts_connections(server: FaultServer, handovers: list[int]) -> None:
    server.always(_barrier(server, ok_reply("openai", "stream")))
    client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, timeout=30)

    async def bursts() -> list[str]:
        first = await asyncio.gather(*(_stream(client) for _ in range(BURST)))
        opened = server.connection_count
        second = await asyncio.gather(*(_stream(client) for _ in range(BURST)))
        assert opened == BURST
        return first + second

    assert bounded(lambda: asyncio.run(bursts())) == ["ok"] * 2 * BURST
    assert server.connection_count == BURST, "the second burst opened connections instead of reusing"
    assert len({r.conn_id for r in server.requests[BURST:]}) == BURST
    # httpcore's pool handed the burst's first idle connection to every request arriving before it
    # was marked busy, and the others failed over one by one: ~BURST x idle hand-overs, not BURST.
    assert handovers[0] == 2 * BURST, "a request was handed a connection that another one had taken"


def test_requests_over_the_connection_limit_wait_their_turn(server: FaultServer, monkeypatch: pytest.MonkeyPatch,
                                                            handovers: list[int]) -> None:
    monkeypatch.setattr(transport, "_MAX_CONNECTIONS", 2)
    server.always(ok_reply("openai", "stream"))
    client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, timeout=30, limiter=False)

    async def burst() -> list[str]:
        return await asyncio.gather(*(_stream(client) for _ in range(10)))

    assert bounded(lambda: asyncio.run(burst())) == ["ok"] * 10
    assert server.connection_count == 2
    assert handovers[0] == 10


def test_the_wait_for_a_connection_is_bounded_and_gives_its_turn_back(server: FaultServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """At the limit a request waits at most its timeout (an APITimeoutError, as any timeout); one that
    timed out or was cancelled while waiting leaves the pool as it was: the next request is served."""
    monkeypatch.setattr(transport, "_MAX_CONNECTIONS", 1)
    server.script([("send", b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n"), ("hang",)])
    server.always(ok_reply("openai", "stream"))
    client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, timeout=30, limiter=False, max_retries=0)

    async def scenario() -> str:
        held = client.stream_chat_completions(dict(PAYLOAD))
        waiting = asyncio.ensure_future(held.__anext__())  # its connection is taken, its body never ends
        assert await asyncio.to_thread(server.wait_until, lambda: server.request_count == 1)
        with pytest.raises(APITimeoutError, match="PoolTimeout"):
            await _stream(client, timeout=0.2)
        cancelled = asyncio.ensure_future(_stream(client))
        await asyncio.sleep(0)  # it waits in the pool now
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await held.aclose()  # the hanging response's connection is closed: its slot comes back
        return await _stream(client)

    assert bounded(lambda: asyncio.run(scenario())) == "ok"
    assert server.request_count == 2
    assert server.connections[0].client_closed.is_set()


def test_the_async_pool_still_goes_through_the_proxy_environment(server: FaultServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Its connections come from the factory httpx configured (here: a forwarding HTTP proxy)."""
    server.always(ok_reply("openai", "stream"))
    monkeypatch.setenv("HTTP_PROXY", server.origin)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    with closed_port() as port:  # the API's own address is never connected to
        base_url = f"http://127.0.0.1:{port}/v1"
        client = AsyncA2AgentClient(api_key=KEY, base_url=base_url, timeout=30, max_retries=0)
        assert bounded(lambda: asyncio.run(_stream(client))) == "ok"
    assert [r.path for r in server.requests] == [base_url + "/chat/completions"]
