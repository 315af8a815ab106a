"""Resources (contract o): an AsyncA2AgentClient reused across ``asyncio.run()`` calls does not leak
the first loop's connections, and keeps working on the next loop. Counted server-side."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from a2agent import AsyncA2AgentClient
from tests.faults.helpers import KEY, PAYLOAD, bounded, ok_reply, text_of
from tests.faults.server import FaultServer


async def _call(client: AsyncA2AgentClient, kind: str) -> str:
    if kind == "json":
        completion = await client.chat_completions(dict(PAYLOAD))
        return str(completion["choices"][0]["message"]["content"])
    async with client.stream_chat_completions(dict(PAYLOAD)) as stream:
        return text_of([c async for c in stream])


def test_async_client_across_two_event_loops(fmt: str, kind: str, server: FaultServer) -> None:
    server.always(ok_reply(fmt, kind))
    client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, api_format=fmt, timeout=30)

    def scenario() -> tuple[str, str]:
        first = asyncio.run(_call(client, kind))
        second = asyncio.run(_call(client, kind))
        return first, second

    assert bounded(scenario) == ("ok", "ok")
    assert server.request_count == 2
    first, second = server.requests
    assert second.conn_id != first.conn_id, "a connection of a closed event loop was reused"
    assert first.conn_id not in second.open_peers, (
        "the first loop's connection was still open when the second run sent its request")
    assert server.wait_until(lambda: server.connections[first.conn_id].closed.is_set(), 10)
    assert server.connections[first.conn_id].client_closed.is_set()


def test_async_client_three_loops_leave_at_most_one_connection_open(server: FaultServer) -> None:
    server.always(ok_reply("openai", "json"))
    client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, timeout=30)

    def scenario() -> list[str]:
        return [asyncio.run(_call(client, "json")) for _ in range(3)]

    assert bounded(scenario) == ["ok", "ok", "ok"]
    assert server.request_count == 3
    assert [r.open_peers for r in server.requests] == [[], [], []]


@pytest.mark.parametrize("close", ["aclose", "async_with"])
def test_async_client_closed_in_its_loop_closes_connections(close: str, server: FaultServer) -> None:
    server.always(ok_reply("openai", "json"))

    async def main() -> Any:
        client = AsyncA2AgentClient(api_key=KEY, base_url=server.base_url, timeout=30)
        if close == "aclose":
            out = await _call(client, "json")
            await client.aclose()
            return out
        async with client:
            return await _call(client, "json")

    assert bounded(lambda: asyncio.run(main())) == "ok"
    assert server.wait_client_closed(0, 10)
