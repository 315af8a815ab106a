"""The limiter's budget in Redis: every process using a key shares one rate and one concurrency cap.

The same decisions as ``LocalBudget`` (``_limiter.py``), made atomically by two Lua scripts on the
Redis server's clock (``TIME``), so processes on several hosts agree on time. Per key, two Redis keys
named from a hash of (base URL, hash of the API key), never the key: ``a2agent:limiter:<h>:state``
(a hash: rate, schedule, pause, epoch, estimate) and ``...:slots`` (a sorted set of concurrency
leases scored by their expiry). A process that dies holding slots blocks nobody for longer than
``LimiterSettings.lease``: expired leases are dropped by the next ``take``. Both keys expire after an
hour unused.

Only the head of each process's FIFO queue asks Redis (one round trip per permit, one per release).
Redis unreachable, or the ``redis`` package missing: one warning, then the in-process budget.
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

from ._limiter import OK, THROTTLED, LimiterSettings, LocalBudget, Permit

__all__ = ["RedisBudget"]

log = logging.getLogger("a2agent")

_TTL = 3600
_SLOT_POLL = 0.02  # seconds between asks for a concurrency slot another process holds

_PRELUDE = """
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
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
# growth_step
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
    local interval = 1 / current(tonumber(ARGV[5]), tonumber(ARGV[7]), maxrate)
    tat = math.max(tat, now - interval / 2)
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

# ARGV: lease id, outcome, t0, epoch, retry_after, min_rate, backoff, margin, growth, max rate, growth_step
_GIVE = _PRELUDE + """
redis.call('ZREM', KEYS[2], ARGV[1])
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
local cur = current(tonumber(ARGV[9]), tonumber(ARGV[11]), tonumber(ARGV[10]))
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


class RedisBudget:
    """``Budget`` over Redis; falls back to a ``LocalBudget`` (once, with a warning) on any Redis error."""

    def __init__(self, settings: LimiterSettings, url: str, name: str, label: str = "") -> None:
        self.s = settings
        self.label = label
        self._url = url
        self.keys = [f"a2agent:limiter:{name}:{part}" for part in ("state", "slots", "recent")]
        self.fallback: LocalBudget | None = None
        self._client: Any = None
        self._take: Any = None
        self._give: Any = None

    @property
    def name(self) -> str:
        return "local (redis unavailable)" if self.fallback is not None else "redis"

    def _connect(self) -> None:
        import redis

        self._client = redis.Redis.from_url(self._url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._take = self._client.register_script(_TAKE)
        self._give = self._client.register_script(_GIVE)

    def _fall_back(self, exc: BaseException) -> LocalBudget:
        where = self._url.rsplit("@", 1)[-1]  # no password in the log
        log.warning("a2agent limiter: Redis at %s unusable (%s); using the in-process limiter", where,
                    type(exc).__name__)
        self.fallback = LocalBudget(self.s, self.label)
        return self.fallback

    def take(self, now: float) -> tuple[float, Permit | None]:
        if self.fallback is not None:
            return self.fallback.take(now)
        lease = uuid.uuid4().hex
        s = self.s
        try:
            if self._client is None:
                self._connect()
            wait, epoch, t0, *rest = self._take(keys=self.keys, args=[
                lease, s.lease, s.max_concurrency or 0, s.max_rate or 0, s.growth, s.recover_after, s.growth_step])
        except Exception as exc:  # ImportError, connection, timeout, script errors: all mean "no Redis"
            return self._fall_back(exc).take(now)
        wait = float(wait)
        if wait < 0:
            return _SLOT_POLL, None
        if wait > 0:
            return wait, None
        if rest and rest[0] == b"1":
            log.info("a2agent limiter %s: no 429 for %.0fs, rate cap lifted (shared through Redis)", self.label,
                     s.recover_after)
        return 0.0, Permit(float(t0), int(float(epoch)), lease)

    def give(self, permit: Permit, outcome: int, now: float, retry_after: float | None) -> str | None:
        if self.fallback is not None:
            return None if permit.lease else self.fallback.give(permit, outcome, now, retry_after)
        s = self.s
        try:
            cut = self._give(keys=self.keys, args=[
                permit.lease, outcome, repr(permit.t0), permit.epoch, retry_after or 0, s.min_rate, s.backoff,
                s.margin, s.growth, s.max_rate or 0, s.growth_step])
        except Exception as exc:
            self._fall_back(exc)
            return None
        return "429: backing off (shared through Redis)" if cut == 1 else None

    def snapshot(self, now: float) -> tuple[float | None, int, int]:
        if self.fallback is not None:
            return self.fallback.snapshot(now)
        try:
            if self._client is None:
                self._connect()
            fields = self._client.hmget(self.keys[0], "rate", "thr")
            in_flight = self._client.zcard(self.keys[1])
        except Exception:
            return None, 0, 0
        rate = float(fields[0] or 0) or None
        return (None if rate is None or math.isnan(rate) else rate), int(in_flight), int(fields[1] or 0)
