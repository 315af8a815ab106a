"""The owned async connection pool: httpcore's connections, scheduled by a pool of our own.

Why not httpcore's ``AsyncConnectionPool`` (what ``httpx.AsyncHTTPTransport`` builds): on a
long-lived client, a second burst of 1000 concurrent streams took 30 s where the first took 3 s,
CPU-bound in the pool, on a dozen sockets. Two things in httpcore 1.0 multiply:

- It hands a queued request an idle connection without reserving it: the connection stays idle
  until that request's task has taken two locks (two event-loop turns), and every request arriving
  meanwhile is handed the same one. A burst arriving on K idle connections piles onto the first;
  all but one fail over (``ConnectionNotAvailable``), one at a time, onto the next: ~N x K extra
  passes through the pool.
- Every pass (each request in, each response closed) re-scans the whole pool: an expiry check per
  connection (a ``poll`` per idle one) and, for each idle connection, a count of the whole pool
  (``len([c.is_idle() for c in connections])``, which counts all of them): O(idle x connections).

The 200 idle connections the first burst left cost the second 5,837 passes and 61 million
``is_idle()`` calls (profiled). What was measured before writing this pool, 1000 streams a burst:
keep-alive 20 (the herd is 20 deep): second burst ~1.25x the first; httpcore's queue kept short
(max connections = keep-alive = 100, the rest queued): first burst 27-37 s, the queue is scanned
against the pool on every pass; ten httpcore pools of 100 taken in turn: second burst 1.0-1.5x.

Here a request costs O(1): take the most recently used idle connection (checked for expiry and
for a server-side close only then), or open one below the limit, or wait (FIFO) for one to come
back; each connection handed back retires the oldest idle one if it outlived the keep-alive
expiry. Each connection serves one request at a time (HTTP/1.1). The
connections are httpcore's own, made by the httpcore pool httpx built (``create_connection``: SSL
context, proxy, socket options, keep-alive expiry as configured); only the scheduling is ours.
asyncio only: ``AsyncTransport`` keeps one pool per event loop, so there is no other thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable

import anyio
import httpcore

Connection = httpcore.AsyncConnectionInterface

__all__ = ["AsyncPool"]


class AsyncPool:
    """A drop-in for httpcore's ``AsyncConnectionPool`` behind ``httpx.AsyncHTTPTransport``."""

    def __init__(self, connect: Callable[[httpcore.Origin], Connection], *, max_connections: int,
                 max_idle: int, idle_expiry: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._clock = clock
        self._max_connections = max_connections
        self._max_idle = max_idle
        self._idle_expiry = idle_expiry
        self._idle: deque[tuple[float, Connection]] = deque()  # (when it came back, ...); newest last
        self._busy: set[Connection] = set()
        self._count = 0  # connections open or being opened, idle ones included
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._closed = False

    @property
    def connections(self) -> list[Connection]:
        """Every connection the pool holds, idle and busy (as httpcore's pool shows them)."""
        return [connection for _, connection in self._idle] + list(self._busy)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        connection = await self._checkout(request)
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            await self._checkin(connection)
            raise
        assert isinstance(response.stream, AsyncIterable)
        return httpcore.Response(status=response.status, headers=response.headers,
                                 content=_Body(response.stream, self, connection), extensions=response.extensions)

    async def _checkout(self, request: httpcore.Request) -> Connection:
        origin = request.url.origin
        while self._idle:
            _, connection = self._idle.pop()
            if connection.can_handle_request(origin) and connection.is_available() and not connection.has_expired():
                self._busy.add(connection)
                return connection
            self._count -= 1
            await _close(connection)
        if self._count < self._max_connections:
            self._count += 1
        else:
            handed = await self._wait(request)
            if handed is not None:
                self._busy.add(handed)
                return handed
            # None: the slot of a connection that closed, counted for us
        connection = self._connect(origin)
        self._busy.add(connection)
        return connection

    async def _wait(self, request: httpcore.Request) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():  # handed over just as we gave up: pass it on
                surplus = self._hand_back(waiter.result())
                if surplus is not None:
                    await _close(surplus)
            waiter.cancel()  # a no-op when done; the hand-over skips cancelled waiters
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout(f"No connection came free within {timeout} s") from None
            raise

    def _hand_back(self, connection: Connection | None) -> Connection | None:
        """Give a reusable connection, or (None) the slot of one that closed, to the first waiter;
        else keep the connection idle. Returns one to close: over the idle limit, or the pool closed."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return None
        if connection is None:
            self._count -= 1
            return None
        if self._closed or len(self._idle) >= self._max_idle:
            self._count -= 1
            return connection
        now = self._clock()
        self._idle.append((now, connection))
        return self._expired(now)

    def _expired(self, now: float) -> Connection | None:
        """The oldest idle connection once it outlived the keep-alive expiry: connections below the
        top of the stack are not looked at otherwise (httpcore checked them all on every request)."""
        if self._idle and now - self._idle[0][0] > self._idle_expiry:
            self._count -= 1
            return self._idle.popleft()[1]
        return None

    async def _checkin(self, connection: Connection) -> None:
        self._busy.discard(connection)
        # Reusable when the response was read to its end and the server keeps the connection open
        # (not is_idle(): httpcore also calls a connection that never connected idle).
        if connection.is_available():
            surplus = self._hand_back(connection)
            if surplus is not None:
                await _close(surplus)
        else:
            self._hand_back(None)
            await _close(connection)

    async def aclose(self) -> None:
        """Close every connection; responses still open close theirs as they end."""
        self._closed = True
        connections = self.connections
        self._idle.clear()
        self._busy.clear()
        for connection in connections:
            await _close(connection)


async def _close(connection: Connection) -> None:
    with anyio.CancelScope(shield=True):  # as httpcore does: a cancelled caller still closes its socket
        await connection.aclose()


class _Body:
    """A response body; closing it hands its connection back (httpcore's ``PoolByteStream``)."""

    __slots__ = ("_connection", "_pool", "_stream")

    def __init__(self, stream: AsyncIterable[bytes], pool: AsyncPool, connection: Connection) -> None:
        self._stream = stream
        self._pool: AsyncPool | None = pool
        self._connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.CancelScope(shield=True):
                close = getattr(self._stream, "aclose", None)
                if close is not None:
                    await close()
                await pool._checkin(self._connection)
