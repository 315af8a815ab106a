"""The limiter's budget in Redis: every process using a key shares one rate and one concurrency cap.

The same decisions as ``LocalBudget`` (``_limiter_budget.py``), made atomically by Lua scripts on the Redis
server's clock (``TIME``), so processes on several hosts agree on time. Per key, Redis keys named
from a hash of (base URL, hash of the API key), never the key: ``a2agent:limiter:<h>:state`` (a hash:
rate, schedule, pause, epoch, estimate), ``...:slots`` (a sorted set of concurrency leases scored by
their expiry) and ``...:recent`` (successes before the first 429, for the first estimate).

- **One budget for all.** Every permit of every process is granted by ``_TAKE`` against the shared
  state: the moment one process records a 429, every process's next permit (its queued calls
  included) waits out the pause, then follows the shared pace. What was learned outlives the
  processes: a process started later (a second batch, a new worker) is paced from its first request
  until ``recover_after`` passes with no 429 (checked on Redis's clock), and a configured
  ``max_rate`` is the aggregate of all processes, from the first request.
- **Leases.** A process renews the slots it holds every ``lease / 3`` seconds (``_Heartbeat``, a
  daemon thread that runs only while the process holds any), so a stream longer than ``lease``
  keeps its slot; a process that dies stops renewing, and its slots are dropped by the next ``take``
  at most ``lease`` seconds later. The state keys expire after an hour unused.
- **Sync and async twins.** One script source, two thin callers: threads use a ``redis.Redis``,
  event loops a ``redis.asyncio.Redis`` per loop (its connections belong to that loop; closed when
  the loop shuts down). Neither is asked under the limiter's lock, which event loops take too, so a
  slow Redis never blocks a loop, not even through a thread of the same key.

Only the head of each process's FIFO queue asks Redis (one round trip per permit, one per release).
Redis unreachable, or the ``redis`` package missing: one warning, then the in-process budget.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import uuid
import weakref
from collections.abc import AsyncIterator
from typing import Any

from ._limiter_budget import OK, THROTTLED, LimiterSettings, LocalBudget, Permit, redact_url

__all__ = ["RedisBudget"]

log = logging.getLogger("a2agent")

_TTL = 3600
_SLOT_POLL = 0.02  # seconds between asks for a concurrency slot another process holds
_SOCKET_TIMEOUT = 1.0  # seconds for a Redis round trip (or connect) before the in-process fallback

_CLOCK = """
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_PRELUDE = _CLOCK + """
local f = redis.call('HMGET', KEYS[1], 'rate', 'tchg', 'tat', 'blocked', 'epoch', 'lastthr', 'slow',
                     'est', 'estcut', 'estn')
local rate, tchg, tat = tonumber(f[1]) or 0, tonumber(f[2]) or 0, tonumber(f[3]) or 0
local blocked, epoch = tonumber(f[4]) or 0, tonumber(f[5]) or 0
local lastthr, slow = tonumber(f[6]) or -1e18, f[7] == '1'
local est, estcut, estn = f[8] == '1', tonumber(f[9]) or 0, tonumber(f[10]) or 0
local function current(growth, step, maxrate)
  local dt = math.max(0, now - math.max(tchg, blocked))
  local r = slow and rate * 2 ^ dt or rate * (1 + growth * dt) + step * dt
  if maxrate > 0 then r = math.min(r, maxrate) end
  return r
end
"""

# ARGV: lease id, lease seconds, max concurrency (0: none), max rate (0: none), growth, recover_after,
# growth_step. The pacing is LocalBudget.take's (and _busy_rate's), line for line.
_TAKE = _PRELUDE + """
local maxrate = tonumber(ARGV[4])
local recovered = '0'
if rate == 0 and maxrate > 0 then rate = maxrate end
if now < blocked then return {tostring(blocked - now), '0', tostring(now)} end
local cap = tonumber(ARGV[3])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= cap then return {'-1', '0', tostring(now)} end
end
if rate > 0 then
  if maxrate == 0 and now - lastthr >= tonumber(ARGV[6]) then
    redis.call('HSET', KEYS[1], 'rate', 0, 'slow', 0, 'est', 0)
    recovered = '1'
  else
    local growth, step = tonumber(ARGV[5]), tonumber(ARGV[7])
    local cur = current(growth, step, maxrate)
    local unused = tat + 1 / cur
    if now > unused then
      tchg = now - math.max(0, unused - math.max(tchg, blocked))
      redis.call('HSET', KEYS[1], 'tchg', tostring(tchg))
      cur = current(growth, step, maxrate)
    end
    local interval = 1 / cur
    local catchup = interval / 2
    if maxrate > 0 and cur >= maxrate then catchup = 0 end
    tat = math.max(tat, now - catchup)
    if now < tat then return {tostring(tat - now), '0', tostring(now)} end
    redis.call('HSET', KEYS[1], 'tat', tostring(tat + interval))
    redis.call('EXPIRE', KEYS[1], @TTL@)
  end
end
if cap > 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('EXPIRE', KEYS[2], @TTL@)
end
return {'0', tostring(epoch), tostring(now), recovered}
""".replace("@TTL@", str(_TTL))

# ARGV: lease id, outcome, t0, epoch, retry_after, min_rate, backoff, margin, growth, max rate, growth_step.
# With a max rate, the rate is known from the start: a first 429 cuts it (no estimate), as LocalBudget.
_GIVE = _PRELUDE + """
redis.call('ZREM', KEYS[2], ARGV[1])
local maxrate = tonumber(ARGV[10])
if rate == 0 and maxrate > 0 then rate = maxrate end
local minrate, margin = tonumber(ARGV[6]), tonumber(ARGV[8])
if ARGV[2] == '@OK@' then
  local t0 = tonumber(ARGV[3])
  if rate == 0 then
    redis.call('ZADD', KEYS[3], t0, ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 2)
    redis.call('EXPIRE', KEYS[3], 60)
  elseif est and t0 >= estcut - 1 and t0 <= estcut then
    estn = estn + 1
    redis.call('HSET', KEYS[1], 'estn', estn)
    if slow or rate == 0 or estn * margin > rate then
      redis.call('HSET', KEYS[1], 'rate', tostring(math.max(minrate, estn * margin)), 'slow', 0)
    end
  end
  return 0
end
if ARGV[2] ~= '@THROTTLED@' then return 0 end
redis.call('HINCRBY', KEYS[1], 'thr', 1)
redis.call('HSET', KEYS[1], 'lastthr', tostring(now))
-- the rate now, before the pause below moves the growth's origin
local cur = current(tonumber(ARGV[9]), tonumber(ARGV[11]), maxrate)
local ra = tonumber(ARGV[5])
if ra > 0 and now + ra > blocked then
  blocked = now + ra
  redis.call('HSET', KEYS[1], 'blocked', tostring(blocked))
end
redis.call('EXPIRE', KEYS[1], @TTL@)
if tonumber(ARGV[4]) ~= epoch then return 0 end
if rate == 0 then
  local n = redis.call('ZCOUNT', KEYS[3], now - 1, now)
  redis.call('DEL', KEYS[3])
  if n > 0 then
    redis.call('HSET', KEYS[1], 'est', 1, 'estcut', tostring(now), 'estn', n, 'slow', 0,
               'rate', tostring(math.max(minrate, n * margin)))
  else
    redis.call('HSET', KEYS[1], 'est', 1, 'estcut', tostring(now), 'estn', 0, 'slow', 1,
               'rate', tostring(math.max(minrate, 1)))
  end
else
  local r = math.max(minrate, cur * tonumber(ARGV[7]))
  redis.call('HSET', KEYS[1], 'rate', tostring(r), 'est', 0, 'slow', 0)
end
redis.call('HSET', KEYS[1], 'epoch', epoch + 1, 'tchg', tostring(now), 'tat', tostring(math.max(tat, blocked)))
return 1
""".replace("@TTL@", str(_TTL)).replace("@OK@", str(OK)).replace("@THROTTLED@", str(THROTTLED))

# KEYS: the slots; ARGV: lease seconds, then the leases to renew (those still there: XX)
_RENEW = _CLOCK + """
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('EXPIRE', KEYS[1], @TTL@)
return n
""".replace("@TTL@", str(_TTL))


class _Heartbeat:
    """Renews this process's live slots every ``lease / 3`` seconds while it holds any.

    A daemon thread: it serves sync and async clients alike (no event loop need be running), it
    exits when the last slot is given back (and starts again with the next), and it dies with the
    process, so a dead process's slots still expire one lease later."""

    def __init__(self, budget: RedisBudget) -> None:
        self.budget = budget
        self.held: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def hold(self, lease: str) -> None:
        with self.lock:
            if self.pid != os.getpid():  # a forked child: the parent's slots are not its to renew
                self.held.clear()
                self.thread, self.pid = None, os.getpid()
            self.held.add(lease)
            if self.thread is None:
                self.wake.clear()
                self.thread = threading.Thread(target=self._run, name="a2agent-limiter-leases", daemon=True)
                self.thread.start()

    def drop(self, lease: str) -> None:
        with self.lock:
            self.held.discard(lease)
            if not self.held:
                self.wake.set()

    def stop(self) -> None:
        with self.lock:
            self.held.clear()
            self.wake.set()

    def _run(self) -> None:
        period = self.budget.s.lease / 3
        while True:
            self.wake.wait(period)
            with self.lock:
                if not self.held:
                    self.thread = None
                    return
                self.wake.clear()
                leases = list(self.held)
            self.budget.renew(leases)


class RedisBudget:
    """``Budget`` over Redis; falls back to a ``LocalBudget`` (once, with a warning) on any Redis error."""

    def __init__(self, settings: LimiterSettings, url: str, name: str, label: str = "") -> None:
        self.s = settings
        self.label = label
        self._url = url
        self.keys = [f"a2agent:limiter:{name}:{part}" for part in ("state", "slots", "recent")]
        self.remote = True  # until the fallback
        self.fallback: LocalBudget | None = None
        self._lock = threading.Lock()  # the sync client's creation, the fallback's
        self._client: Any = None
        self._scripts: tuple[Any, Any, Any] | None = None  # take, give, renew (sync)
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any, Any]] = \
            weakref.WeakKeyDictionary()
        self.heartbeat = _Heartbeat(self)

    @property
    def name(self) -> str:
        return "redis" if self.fallback is None else "local (redis unavailable)"

    # -- the clients -----------------------------------------------------------------------------
    def _sync(self) -> tuple[Any, Any, Any]:
        if self._scripts is None:
            with self._lock:
                if self._scripts is None:
                    import redis

                    client = redis.Redis.from_url(self._url, socket_timeout=_SOCKET_TIMEOUT,
                                                  socket_connect_timeout=_SOCKET_TIMEOUT)
                    self._client = client
                    self._scripts = (client.register_script(_TAKE), client.register_script(_GIVE),
                                     client.register_script(_RENEW))
        return self._scripts

    async def _async(self) -> tuple[Any, Any, Any]:
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self._url, socket_timeout=_SOCKET_TIMEOUT,
                                                  socket_connect_timeout=_SOCKET_TIMEOUT)
            closer = _close_at_shutdown(self._aclients, client)
            await closer.__anext__()  # registered with the loop now: closed when it shuts down
            entry = (client.register_script(_TAKE), client.register_script(_GIVE), closer)
            with self._lock:
                self._aclients[loop] = entry
        return entry

    def configure(self, settings: LimiterSettings) -> None:
        """Settings given later for the same key (the Redis state, what was learned, is kept)."""
        self.s = settings
        if self.fallback is not None:
            self.fallback.s = settings

    def _fall_back(self, exc: BaseException) -> LocalBudget:
        with self._lock:
            if self.fallback is not None:
                return self.fallback
            log.warning("a2agent limiter: Redis at %s unusable (%s); using the in-process limiter",
                        redact_url(self._url), type(exc).__name__)
            self.fallback = fallback = LocalBudget(self.s, self.label)
            self.remote = False
        self.heartbeat.stop()
        return fallback

    # -- take: the shared arguments and answer, then the twins ------------------------------------
    def _take_args(self, lease: str) -> list[Any]:
        s = self.s
        return [lease, s.lease, s.max_concurrency or 0, s.max_rate or 0, s.growth, s.recover_after, s.growth_step]

    def _taken(self, answer: list[Any], lease: str) -> tuple[float, Permit | None]:
        wait_text, epoch, t0, *rest = answer
        wait = float(wait_text)
        if wait < 0:  # every slot held (by any process): ask again soon; no time is known to fail early on
            return -_SLOT_POLL, None
        if wait > 0:
            return wait, None
        if rest and rest[0] == b"1":
            log.info("a2agent limiter %s: no 429 for %.0fs, rate cap lifted (shared through Redis)", self.label,
                     self.s.recover_after)
        if self.s.max_concurrency:
            self.heartbeat.hold(lease)
        return 0.0, Permit(float(t0), int(float(epoch)), lease)

    def take(self, now: float) -> tuple[float, Permit | None]:
        """Under the limiter's lock: only once Redis failed (the fallback's decision)."""
        return self.fallback.take(now) if self.fallback is not None else self.ask(now)

    def ask(self, now: float) -> tuple[float, Permit | None]:
        """One take from Redis, outside the limiter's lock. (0, None) once Redis failed: ask again;
        the limiter then takes from the fallback, under its lock."""
        if self.fallback is not None:
            return 0.0, None
        lease = uuid.uuid4().hex
        try:
            answer = self._sync()[0](keys=self.keys, args=self._take_args(lease))
        except Exception as exc:  # ImportError, connection, timeout, script errors: all mean "no Redis"
            self._fall_back(exc)
            return 0.0, None
        return self._taken(answer, lease)

    async def atake(self) -> tuple[float, Permit | None]:
        """(0, None) once Redis failed: ask again, the limiter then takes from the fallback."""
        if self.fallback is not None:
            return 0.0, None
        lease = uuid.uuid4().hex
        try:
            answer = await (await self._async())[0](keys=self.keys, args=self._take_args(lease))
        except Exception as exc:
            self._fall_back(exc)
            return 0.0, None
        return self._taken(answer, lease)

    # -- give ------------------------------------------------------------------------------------
    def _give_args(self, permit: Permit, outcome: int, retry_after: float | None) -> list[Any]:
        s = self.s
        self.heartbeat.drop(permit.lease)
        return [permit.lease, outcome, repr(permit.t0), permit.epoch, retry_after or 0, s.min_rate, s.backoff,
                s.margin, s.growth, s.max_rate or 0, s.growth_step]

    def give(self, permit: Permit, outcome: int, now: float, retry_after: float | None) -> str | None:
        if self.fallback is not None:
            return None if permit.lease else self.fallback.give(permit, outcome, now, retry_after)
        try:
            cut = self._sync()[1](keys=self.keys, args=self._give_args(permit, outcome, retry_after))
        except Exception as exc:
            self._fall_back(exc)
            return None
        return _cut_message(cut)

    async def agive(self, permit: Permit, outcome: int, retry_after: float | None) -> str | None:
        if self.fallback is not None:
            return None  # a Redis permit: Redis's to forget (its lease expires)
        try:
            cut = await (await self._async())[1](keys=self.keys, args=self._give_args(permit, outcome, retry_after))
        except Exception as exc:
            self._fall_back(exc)
            return None
        return _cut_message(cut)

    # -- the heartbeat's renewal, and the snapshot (threads) --------------------------------------
    def renew(self, leases: list[str]) -> None:
        try:
            self._sync()[2](keys=self.keys[1:2], args=[self.s.lease, *leases])
        except Exception as exc:  # the next take or give decides about falling back
            log.debug("a2agent limiter %s: lease renewal failed (%s)", self.label, type(exc).__name__)

    def snapshot(self, now: float) -> tuple[float | None, int, int]:
        if self.fallback is not None:
            return self.fallback.snapshot(now)
        try:
            self._sync()
            fields = self._client.hmget(self.keys[0], "rate", "thr")
            in_flight = self._client.zcard(self.keys[1])
        except Exception:
            return None, 0, 0
        rate = float(fields[0] or 0) or None
        return (None if rate is None or math.isnan(rate) else rate), int(in_flight), int(fields[1] or 0)


def _cut_message(cut: Any) -> str | None:
    return "429: backing off (shared through Redis)" if cut == 1 else None


async def _close_at_shutdown(clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any],
                             client: Any) -> AsyncIterator[None]:
    """Closes a loop's Redis client while the loop can still do so (``asyncio.run`` finalizes the
    loop's live async generators before closing it)."""
    try:
        yield
    finally:
        clients.pop(asyncio.get_running_loop(), None)
        await client.aclose()
