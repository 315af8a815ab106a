"""The per-key client-side limiter: bounded concurrency and an adaptive request rate (AIMD).

Where it sits: client -> limiter -> transport. Every attempt of every request and stream takes a
permit here first (``_Call`` in ``_transport.py`` is the one place that does) and gives it back when
the attempt ends (a stream: when it ends). One ``KeyLimiter`` is shared by every client and model in
the process that uses the same base URL and API key (``limiter_for``; the registry is keyed by the
URL and a hash of the key, never the key). With ``redis_url`` (or ``A2AGENT_REDIS_URL``) the budget
lives in Redis and is shared by every process using the key (``_limiter_redis.py``); event loops
then await it (``aacquire``/``arelease``) rather than block on it.

What a permit costs and when one is granted is the budget's business (``_limiter_budget.py``: no
cap until the first 429, one shared pause, then AIMD pacing); this module waits for it: a FIFO
queue that threads and event loops share. A 429 the limiter absorbed (a transient one it could
wait out) is retried without using the call's retry budget, at most ``max_throttled_retries`` times
a call; every wait counts against the call's timeout and ``max_wait``; the queue holds at most
``max_queue`` calls. Past those: ``LimiterError``, at once when the next permit is further away
than the call may still wait.

The queue's lock is shared by threads and event loops, so nothing slow happens under it: a Redis
budget is asked outside it. A queued task whose event loop was closed can never be woken and is
dropped; one whose loop is stopped keeps its place but is passed over until the loop runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import LimiterError
from ._limiter_budget import (
    DEFAULT_SETTINGS,
    OK,
    OTHER,
    THROTTLED,
    Budget,
    LimiterSettings,
    LocalBudget,
    Permit,
    RemoteBudget,
    resolve_limiter,
)

__all__ = ["OK", "OTHER", "THROTTLED", "KeyLimiter", "LimiterSettings", "LimiterStats", "LocalBudget", "Permit",
           "limiter_for", "resolve_limiter", "shared_limiter"]

log = logging.getLogger("a2agent")


@dataclass(frozen=True)
class LimiterStats:
    """A snapshot: ``rate`` is the current cap in requests/s (None: uncapped), ``throttled`` the
    429s seen, ``total_wait`` the seconds calls spent waiting here, all calls together."""

    key: str
    backend: str
    rate: float | None
    in_flight: int
    queued: int
    throttled: int
    total_wait: float
    max_concurrency: int | None


class _Waiter:
    """A queued call: a thread (``loop`` None) or a task of an event loop, woken by ``notify``."""

    __slots__ = ("kicked", "loop", "notify")

    def __init__(self, notify: Callable[[], None], loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.notify = notify
        self.loop = loop
        self.kicked = False  # woken while its loop was stopped: it polls when the loop runs again

    def can_act(self) -> bool:
        return self.loop is None or self.loop.is_running()

    def gone(self) -> bool:
        """Its loop is closed: it can never be woken."""
        return self.loop is not None and self.loop.is_closed()


class KeyLimiter:
    """FIFO waiting over a budget; sync (threads) and async (any event loop) callers share it."""

    def __init__(self, settings: LimiterSettings, label: str = "", budget: Budget | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.label = label  # a short hash of the key, for logs
        self.budget: Budget = budget or LocalBudget(settings, label)
        self.clock = clock
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()
        self.total_wait = 0.0

    # -- the shared steps ------------------------------------------------------------------------
    # The lock guards the queue and an in-process budget, and event loops take it too: a remote
    # budget (Redis) is never asked while holding it, so a slow Redis cannot stall a loop because a
    # thread of the same key is waiting on it.
    def _head(self) -> _Waiter | None:
        """The first waiter that can act (under the lock). A task of a closed loop can never be woken:
        it is dropped; one of a loop that is not running (stopped, not closed) keeps its place but is
        passed over, so a loop left stopped with a task queued cannot block the key."""
        queue = self._queue
        while queue and queue[0].gone():
            queue.popleft()
        for waiter in queue:
            if waiter.can_act():
                return waiter
        return None

    def _notify_head(self) -> None:
        self._head()  # drops the waiters of closed loops
        for waiter in self._queue:
            if waiter.can_act():
                waiter.notify()  # it computes its own wait
                return
            if not waiter.kicked:  # a stopped loop: the wake runs, and its task polls, when it runs again
                waiter.kicked = True
                waiter.notify()

    def _take_fast(self) -> Permit | None:
        with self._lock:
            if self._queue and self._head() is not None:  # the common case first: nobody waits
                return None
            if not self.budget.remote:
                return self.budget.take(self.clock())[1]
        return self._remote().ask(self.clock())[1]

    async def _atake_fast(self) -> Permit | None:
        with self._lock:
            if self._queue and self._head() is not None:
                return None
        return (await self._aask())[1]

    def _enqueue(self, waiter: _Waiter, front: bool) -> None:
        with self._lock:
            if len(self._queue) >= self.settings.max_queue:
                raise LimiterError(f"Rate limiter queue full ({self.settings.max_queue} calls waiting for key "
                                   f"{self.label}); raise LimiterSettings.max_queue or send fewer at once",
                                   reason="queue_full")
            if front:
                self._queue.appendleft(waiter)
            else:
                self._queue.append(waiter)

    def _poll(self, waiter: _Waiter) -> tuple[float, Permit | None]:
        with self._lock:
            waiter.kicked = False
            if self._head() is not waiter:
                return math.inf, None
            if not self.budget.remote:
                wait, permit = self.budget.take(self.clock())
                if permit is not None:
                    self._queue.remove(waiter)
                    self._notify_head()
                return wait, permit
        wait, permit = self._remote().ask(self.clock())  # asked by the head, outside the lock
        if permit is not None:
            self._leave(waiter)
        return wait, permit

    async def _apoll(self, waiter: _Waiter) -> tuple[float, Permit | None]:
        """``_poll`` for a remote budget: the head asks it without holding the lock."""
        with self._lock:
            waiter.kicked = False
            if self._head() is not waiter:
                return math.inf, None
        wait, permit = await self._aask()
        if permit is not None:
            self._leave(waiter)  # the head, or just behind a retry that went to the front meanwhile
        return wait, permit

    async def _aask(self) -> tuple[float, Permit | None]:
        """One remote take, shielded: a caller cancelled mid-way leaves the round trip to finish (a
        connection is never cut mid-reply) and a permit it granted is given back at once."""
        task = asyncio.ensure_future(self._remote().atake())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._give_back)
            raise

    def _give_back(self, task: asyncio.Future[tuple[float, Permit | None]]) -> None:
        if not task.cancelled() and task.exception() is None and (permit := task.result()[1]) is not None:
            _background(self.arelease(permit, OTHER))

    def _remote(self) -> RemoteBudget:
        return self.budget  # type: ignore[return-value]  # only called while budget.remote

    def _leave(self, waiter: _Waiter) -> None:
        with self._lock:
            head = self._head() is waiter
            try:
                self._queue.remove(waiter)
            except ValueError:
                return
            if head:
                self._notify_head()

    def _deadline(self, timeout: float | None, waited: float) -> tuple[float, str]:
        budget = self.settings.max_wait - waited
        if timeout is not None and timeout < budget:
            return timeout, "the call's timeout"
        return budget, "LimiterSettings.max_wait"

    def _timed_out(self, waited: float, why: str) -> LimiterError:
        return LimiterError(f"Waited {waited:.1f}s in the rate limiter for key {self.label} (bounded by {why})",
                            reason="timeout")

    def release(self, permit: Permit, outcome: int, retry_after: float | None = None) -> None:
        with self._lock:
            remote = self.budget.remote
            if not remote:
                message = self.budget.give(permit, outcome, self.clock(), retry_after)
                self._notify_head()
        if remote:
            message = self.budget.give(permit, outcome, self.clock(), retry_after)
            with self._lock:
                self._notify_head()
        if message:
            log.info("a2agent limiter %s: %s", self.label, message)

    async def arelease(self, permit: Permit, outcome: int, retry_after: float | None = None) -> None:
        """``release`` for event loops: a remote budget is told without blocking the loop, and is
        told even when the caller is cancelled meanwhile."""
        if not self.budget.remote:
            self.release(permit, outcome, retry_after)
            return
        task = asyncio.ensure_future(self._remote().agive(permit, outcome, retry_after))
        task.add_done_callback(self._given)
        await asyncio.shield(task)

    def _given(self, task: asyncio.Future[str | None]) -> None:
        with self._lock:
            self._notify_head()
        message = None if task.cancelled() or task.exception() is not None else task.result()
        if message:
            log.info("a2agent limiter %s: %s", self.label, message)

    def _settle(self, polled: tuple[float, Permit | None], start: float, limit: float, waited: float,
                why: str) -> tuple[Permit | None, float]:
        """The step both waiting twins share (no I/O): a granted permit with its wait recorded, or
        None and how long to wait before asking again; raises once the wait's bound is spent."""
        wait, permit = polled
        now = self.clock()
        if permit is not None:
            permit.waited = now - start
            self._add_wait(permit.waited)
            return permit, 0.0
        left = limit - (now - start)
        if left <= 0:
            raise self._timed_out(waited + now - start, why)
        if wait < 0:  # a remote budget's slots are all held: ask again after -wait, no turn time known
            return None, min(-wait, left)
        if left < wait < math.inf:  # this call's turn comes later than it may wait: say so now
            raise LimiterError(f"The next permit for key {self.label} is {wait:.1f}s away (a server-asked pause "
                               f"or the key's pace), more than this call may still wait ({left:.1f}s, bounded "
                               f"by {why})", reason="timeout")
        return None, min(wait, left)

    # -- the waiting wrappers --------------------------------------------------------------------
    def acquire(self, timeout: float | None = None, waited: float = 0.0, front: bool = False) -> Permit:
        """Block until a permit is granted (threads); ``timeout``: seconds this wait may take."""
        permit = None if front else self._take_fast()
        if permit is not None:
            return permit
        start = self.clock()
        limit, why = self._deadline(timeout, waited)
        event = threading.Event()
        waiter = _Waiter(event.set)
        self._enqueue(waiter, front)
        try:
            while True:
                permit, wait = self._settle(self._poll(waiter), start, limit, waited, why)
                if permit is not None:
                    return permit
                event.wait(wait)
                event.clear()
        finally:
            if permit is None:
                self._leave(waiter)

    async def aacquire(self, timeout: float | None = None, waited: float = 0.0, front: bool = False) -> Permit:
        """The async twin: wakes through the caller's own event loop, whichever it is. A remote
        budget is asked without blocking that loop, by the head of the queue only (one round trip
        at a time per process, as the sync twin under its lock: a burst of calls is not a burst of
        Redis connections, and permits are granted in the order calls came)."""
        if not front and not self.budget.remote:
            permit = self._take_fast()
            if permit is not None:
                return permit
        start = self.clock()
        limit, why = self._deadline(timeout, waited)
        loop = asyncio.get_running_loop()
        box: list[asyncio.Future[None]] = [loop.create_future()]

        def wake() -> None:
            if not box[0].done():
                box[0].set_result(None)

        def notify() -> None:
            with contextlib.suppress(RuntimeError):  # that loop is closed: its waiter is gone with it
                loop.call_soon_threadsafe(wake)

        waiter = _Waiter(notify, loop)
        self._enqueue(waiter, front)
        permit = None
        try:
            while True:
                polled = await self._apoll(waiter) if self.budget.remote else self._poll(waiter)
                permit, wait = self._settle(polled, start, limit, waited, why)
                if permit is not None:
                    return permit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(box[0]), wait)
                box[0] = loop.create_future()
        finally:
            if permit is None:
                self._leave(waiter)

    # -- pacing for callers that send requests themselves (LangChain's rate-limiter hook) ----------
    def pace(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Wait for this key's next turn (its pause and pace, its queue), without holding a slot."""
        permit = self.acquire(timeout) if blocking else self._take_fast()
        if permit is None:
            return False
        self.release(permit, OTHER)
        return True

    async def apace(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if blocking:
            permit: Permit | None = await self.aacquire(timeout)
        else:
            permit = await self._atake_fast() if self.budget.remote else self._take_fast()
        if permit is None:
            return False
        await self.arelease(permit, OTHER)
        return True

    def _add_wait(self, seconds: float) -> None:
        with self._lock:
            self.total_wait += seconds

    def stats(self) -> LimiterStats:
        """A snapshot (with Redis: one round trip to read the shared state, from any thread)."""
        if self.budget.remote:
            rate, in_flight, throttled = self.budget.snapshot(self.clock())
        with self._lock:
            if not self.budget.remote:
                rate, in_flight, throttled = self.budget.snapshot(self.clock())
            return LimiterStats(key=self.label, backend=self.budget.name, rate=rate, in_flight=in_flight,
                                queued=sum(1 for w in self._queue if not w.gone()),
                                throttled=throttled, total_wait=self.total_wait,
                                max_concurrency=self.settings.max_concurrency)


_TASKS: set[asyncio.Task[None]] = set()  # background tasks, held until done (the loop keeps only weak refs)


def _background(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


# -- the registry: one limiter per (base URL, key) in the process --------------------------------
_REGISTRY: dict[tuple[str, str], KeyLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def limiter_for(base_url: str, api_key: str, settings: LimiterSettings) -> KeyLimiter:
    """The process's limiter for this URL and key; settings other than the defaults given later
    replace the earlier ones (the budget, what was learned about the server, is kept)."""
    digest = key_hash(api_key)
    entry = (base_url, digest)
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(entry)
        if limiter is None:
            limiter = _REGISTRY[entry] = KeyLimiter(settings, label=digest[:8],
                                                    budget=_make_budget(settings, base_url, digest, digest[:8]))
        elif settings != limiter.settings and settings != DEFAULT_SETTINGS:
            if settings.redis_url is not None and _redis_url(settings) != _redis_url(limiter.settings):
                log.warning("a2agent limiter %s: this key's limiter already runs %s; a redis_url given later "
                            "is not applied in this process (give it to the first client of the key)",
                            limiter.label, limiter.budget.name)
            limiter.settings = settings
            limiter.budget.configure(settings)
        return limiter


def _redis_url(settings: LimiterSettings) -> str:
    return settings.redis_url if settings.redis_url is not None else os.environ.get("A2AGENT_REDIS_URL", "")


def shared_limiter(api_key: str | None = None, base_url: str | None = None,
                   settings: LimiterSettings | Mapping[str, Any] | bool | None = None) -> KeyLimiter:
    """The limiter every a2agent client of this key and URL uses (``A2AGENT_API_KEY`` /
    ``A2AGENT_BASE_URL`` when not given): for code that sends requests itself and should wait its
    turn with them (``pace()`` / ``apace()``)."""
    from ._transport import TransportConfig

    resolved = resolve_limiter(settings) or DEFAULT_SETTINGS
    config = TransportConfig(api_key=api_key, base_url=base_url, limiter=resolved)
    assert config.limiter is not None
    return config.limiter


def _make_budget(settings: LimiterSettings, base_url: str, digest: str, label: str) -> Budget:
    url = _redis_url(settings)
    if not url:
        return LocalBudget(settings, label)
    from ._limiter_redis import RedisBudget

    return RedisBudget(settings, url, hashlib.sha256(f"{base_url}\n{digest}".encode()).hexdigest()[:24], label)


def reset_limiters() -> None:
    """Forget every limiter of the process (tests; a fresh start after reconfiguring a gateway)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
