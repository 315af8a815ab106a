"""The owned async pool's scheduling, over stand-in connections: what a real server cannot show
without waiting on the clock (idle expiry) or without a race (a waiter cancelled as it is handed a
connection). Bursts against a real server: tests/faults/test_bursts.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpcore
import pytest

from a2agent._pool import AsyncPool

ORIGIN = httpcore.URL("http://127.0.0.1:9/v1").origin


class Stand:
    """A connection: one request at a time, idle again when its body is closed."""

    def __init__(self, origin: httpcore.Origin) -> None:
        self.origin = origin
        self.state = "new"
        self.expired = False

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state == "idle"

    def has_expired(self) -> bool:
        return self.expired

    async def aclose(self) -> None:
        self.state = "closed"

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        assert self.state in ("new", "idle"), "handed a connection in use"
        self.state = "active"
        return httpcore.Response(200, content=_Body(self))


class _Body:
    def __init__(self, connection: Stand) -> None:
        self.connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"ok"

    async def aclose(self) -> None:
        self.connection.state = "idle"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def make_pool(max_connections: int = 10, max_idle: int = 10,
              clock: Clock | None = None) -> tuple[AsyncPool, list[Stand]]:
    made: list[Stand] = []

    def connect(origin: httpcore.Origin) -> Stand:
        made.append(Stand(origin))
        return made[-1]

    pool = AsyncPool(connect, max_connections=max_connections, max_idle=max_idle,  # type: ignore[arg-type]
                     idle_expiry=30.0, clock=clock or Clock())
    return pool, made


def request() -> httpcore.Request:
    return httpcore.Request("POST", "http://127.0.0.1:9/v1/chat/completions", extensions={"timeout": {"pool": 5}})


async def burst(pool: AsyncPool, n: int) -> None:
    responses = [await pool.handle_async_request(request()) for _ in range(n)]
    for response in responses:
        await response.aclose()


def test_the_last_connection_back_is_the_next_one_out_and_the_idle_limit_closes_the_rest() -> None:
    async def scenario() -> None:
        pool, made = make_pool(max_idle=2)
        await burst(pool, 3)
        assert [c.state for c in made] == ["idle", "idle", "closed"]  # the third back was over the limit
        response = await pool.handle_async_request(request())
        assert made[1].state == "active" and len(made) == 3
        await response.aclose()

    asyncio.run(scenario())


def test_idle_connections_expire_from_the_oldest_without_being_polled() -> None:
    async def scenario() -> None:
        clock = Clock()
        pool, made = make_pool(clock=clock)
        await burst(pool, 3)
        clock.now += 31.0
        await burst(pool, 1)  # takes the newest; handing it back closes the oldest, now expired
        assert [c.state for c in made] == ["closed", "idle", "idle"]
        made[1].expired = True  # e.g. the server closed it: found when it is next taken
        await burst(pool, 2)
        assert made[1].state == "closed" and len(made) == 4

    asyncio.run(scenario())


def test_a_connection_handed_to_a_waiter_that_was_cancelled_goes_to_the_next_request() -> None:
    async def scenario() -> None:
        pool, made = make_pool(max_connections=1)
        holder = await pool.handle_async_request(request())
        waiter = asyncio.ensure_future(pool.handle_async_request(request()))
        await asyncio.sleep(0)  # it waits in the pool
        await holder.aclose()  # hands the connection to the waiter...
        waiter.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert [c.state for c in made] == ["idle"]
        await burst(pool, 1)
        assert len(made) == 1

    asyncio.run(scenario())
