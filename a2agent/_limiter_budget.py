"""The limiter's budget: its settings, its permits, and the in-process decisions (``LocalBudget``).

``LocalBudget`` is pure: no lock, no I/O, every method takes ``now`` (``KeyLimiter`` in
``_limiter.py`` locks and waits; ``RedisBudget`` in ``_limiter_redis.py`` makes the same decisions in
Lua, shared by processes).
- until the first 429 there is no rate cap: a permit is one lock, one clock read and a counter;
- on a 429 the whole key slows down: every waiting call waits out the server's ``retry-after-ms`` /
  ``Retry-After`` once (one shared pause, not one per call), and the rate is set: after the first
  429, to 95% of what the server accepted in the second before it (requests sent then that
  succeeded; with none, a slow start from 1/s doubling every second); after later ones, cut by
  ``backoff`` (to 90%). 429s of requests sent before the last cut
  are the same congestion and change nothing (one cut per round trip, as TCP does);
- without 429s the rate grows by ``growth`` (1%) plus ``growth_step`` (0.25 requests/s) per
  second the key uses its pace (the additive part is what makes several processes of one key
  converge to fair shares; a key idle between batches does not grow, so the next batch starts at
  the rate learned), and after ``recover_after`` seconds with no 429 the cap is lifted again;
- pacing is a GCRA schedule: permits are spaced ``1/rate`` apart, FIFO; a late wake-up may catch
  up half a step, except at ``max_rate``, which caps from the first request and is never exceeded.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ._errors import InvalidInputError

__all__ = ["DEFAULT_SETTINGS", "OK", "OTHER", "THROTTLED", "Budget", "LimiterSettings", "LocalBudget", "Permit",
           "RemoteBudget", "redact_url", "resolve_limiter"]

log = logging.getLogger("a2agent")

OK, THROTTLED, OTHER = 0, 1, 2  # how an attempt ended, as far as the budget cares
_WINDOW = 1.0  # seconds: the first rate estimate counts what the server accepted in this window


@dataclass(frozen=True)
class LimiterSettings:
    """How a key is limited. Defaults: no rate cap until the server answers 429, at most 1000 calls
    in flight (as many as the connection pool holds), 10,000 queued, 300 s of waiting at most."""

    max_concurrency: int | None = 1000
    max_rate: float | None = None  # requests/s never exceeded (None: only what the server teaches)
    max_queue: int = 10_000
    max_wait: float = 300.0  # seconds a call may spend waiting in the limiter, all attempts together
    max_throttled_retries: int = 20
    min_rate: float = 0.5
    backoff: float = 0.9
    growth: float = 0.01  # per second, relative to the rate ...
    growth_step: float = 0.25  # ... plus this many requests/s per second: keys' processes converge to fair shares
    margin: float = 0.95
    recover_after: float = 30.0
    redis_url: str | None = None  # else A2AGENT_REDIS_URL; "" forces the in-process budget
    lease: float = 60.0  # seconds a Redis concurrency slot outlives a process that died holding it (renewed
    # every lease/3 while its process lives)

    def __post_init__(self) -> None:
        # Every bound is checked for its type too: NaN compares False with everything, so a NaN cap
        # would silently be no cap at all; a bool is an int to isinstance but never meant as a count.
        for name in ("max_concurrency", "max_queue", "max_throttled_retries"):
            value = getattr(self, name)
            if not (name == "max_concurrency" and value is None) and not (
                    isinstance(value, int) and not isinstance(value, bool) and value >= _MIN_COUNT[name]):
                raise InvalidInputError(f"LimiterSettings.{name} must be an int >= {_MIN_COUNT[name]}"
                                        f"{' or None' if name == 'max_concurrency' else ''}, got {value!r}")
        for name, (low, high, text) in _RANGES.items():
            value = getattr(self, name)
            if name == "max_rate" and value is None:
                continue
            if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                    and (low < value if text[0] == "(" else low <= value)
                    and (value < high if text[-1] == ")" else value <= high)):
                raise InvalidInputError(f"LimiterSettings.{name} must be a finite number in {text}, got {value!r}")
        if self.redis_url is not None and not isinstance(self.redis_url, str):
            raise InvalidInputError(f"LimiterSettings.redis_url must be a URL string (\"\" for the "
                                    f"in-process limiter) or None, got {type(self.redis_url).__name__}")

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.redis_url:  # a Redis password never reaches a repr
            shown["redis_url"] = redact_url(self.redis_url)
        fields = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"LimiterSettings({fields})"


_MIN_COUNT = {"max_concurrency": 1, "max_queue": 0, "max_throttled_retries": 0}
# name: (low, high, the interval as the error states it; a parenthesis means the bound is excluded)
_RANGES: dict[str, tuple[float, float, str]] = {
    "max_rate": (0, math.inf, "(0, inf)"), "max_wait": (0, math.inf, "[0, inf)"),
    "min_rate": (0, math.inf, "[0, inf)"), "growth": (0, math.inf, "[0, inf)"),
    "growth_step": (0, math.inf, "[0, inf)"), "recover_after": (0, math.inf, "[0, inf)"),
    "lease": (0, math.inf, "(0, inf)"), "backoff": (0, 1, "(0, 1)"), "margin": (0, 1, "(0, 1]"),
}


def redact_url(url: str) -> str:
    """A URL fit for logs and reprs: scheme, host, port and path; never a user, password or query
    (redis-py takes ``?password=`` too)."""
    if "://" not in url:  # "user:pw@host" parses as a scheme "user": show nothing of it
        return "<not a URL>"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<unparsable URL>"


DEFAULT_SETTINGS = LimiterSettings()


def resolve_limiter(value: Any) -> LimiterSettings | None:
    """The ``limiter=`` argument of a client: None/True (defaults), False (off), settings, or a dict."""
    if value is None or value is True:
        return DEFAULT_SETTINGS
    if value is False:
        return None
    if isinstance(value, LimiterSettings):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {f.name for f in dataclasses.fields(LimiterSettings)})
        if unknown:
            raise InvalidInputError(f"limiter: unknown LimiterSettings field(s) {unknown}")
        return LimiterSettings(**value)
    raise InvalidInputError(f"limiter must be a LimiterSettings, a dict, True or False, got {type(value).__name__}")


class Permit:
    """One attempt's hold on the budget: when it was granted, and the budget epoch it saw."""

    __slots__ = ("epoch", "lease", "t0", "waited")

    def __init__(self, t0: float, epoch: int, lease: str = "") -> None:
        self.t0 = t0
        self.epoch = epoch
        self.lease = lease
        self.waited = 0.0  # seconds the caller waited for it


class Budget(Protocol):
    """Decisions over one key's budget. ``take``/``give`` run under ``KeyLimiter``'s lock while the
    budget is not ``remote``; a remote one (Redis) is asked without it: ``ask``/``give`` from threads,
    ``atake``/``agive`` awaited from event loops. A take answers ``(0, permit)`` or ``(wait, None)``:
    ``inf`` until a slot is given back here, a negative wait to ask again after ``-wait`` seconds
    (slots held by other processes: no turn time is known)."""

    remote: bool

    @property
    def name(self) -> str: ...

    def take(self, now: float) -> tuple[float, Permit | None]: ...
    def give(self, permit: Permit, outcome: int, now: float, retry_after: float | None) -> str | None: ...
    def snapshot(self, now: float) -> tuple[float | None, int, int]: ...
    def configure(self, settings: LimiterSettings) -> None: ...


class RemoteBudget(Budget, Protocol):
    def ask(self, now: float) -> tuple[float, Permit | None]: ...
    async def atake(self) -> tuple[float, Permit | None]: ...
    async def agive(self, permit: Permit, outcome: int, retry_after: float | None) -> str | None: ...


class LocalBudget:
    """The in-process budget: pure decisions over ``now``, no lock, no I/O (``KeyLimiter`` locks)."""

    name = "local"
    remote = False

    def __init__(self, settings: LimiterSettings, label: str = "") -> None:
        self.s = settings
        self.label = label  # a short hash of the key, for the log
        self.in_flight = 0
        self.throttled = 0
        self.epoch = 0
        self.rate: float | None = settings.max_rate  # the rate at t_change; None: uncapped
        self.t_change = 0.0
        self.tat = 0.0  # the GCRA schedule: the earliest time the next permit may start
        self.blocked_until = 0.0
        self.last_throttle = -math.inf
        self.slow_start = False
        self.estimating = False  # after the first 429: successes sent just before it raise the estimate
        self.est_cut = 0.0
        self.est_count = 0
        self.recent: deque[float] = deque(maxlen=4096)  # while uncapped: when the last successes were sent

    def configure(self, settings: LimiterSettings) -> None:
        """Settings given later for the same key (what was learned is kept)."""
        self.s = settings

    def current_rate(self, now: float) -> float | None:
        if self.rate is None:
            return None
        dt = max(0.0, now - max(self.t_change, self.blocked_until))
        rate = (self.rate * 2.0**dt if self.slow_start
                else self.rate * (1.0 + self.s.growth * dt) + self.s.growth_step * dt)
        return rate if self.s.max_rate is None else min(rate, self.s.max_rate)

    def take(self, now: float) -> tuple[float, Permit | None]:
        """(0, permit) when an attempt may start now, else (seconds to wait, None); inf: for a slot."""
        if now < self.blocked_until:
            return self.blocked_until - now, None
        cap = self.s.max_concurrency
        if cap is not None and self.in_flight >= cap:
            return math.inf, None
        if self.rate is not None:
            if self.s.max_rate is None and now - self.last_throttle >= self.s.recover_after:
                self._recover()
            else:
                rate = self._busy_rate(now)
                interval = 1.0 / rate
                # A late wake-up may catch up half a step; at max_rate none: it is never exceeded.
                catch_up = 0.0 if self.s.max_rate is not None and rate >= self.s.max_rate else interval / 2
                tat = max(self.tat, now - catch_up)
                if now < tat:
                    return tat - now, None
                self.tat = tat + interval
        self.in_flight += 1
        return 0.0, Permit(now, self.epoch)

    def _busy_rate(self, now: float) -> float:
        """The rate now, grown only while the key used its pace: a slot left unused (the schedule
        fell behind by more than a step: idle, or fewer calls than the pace allows) moves the
        growth's origin forward by that time, so a key idle between batches starts the next one at
        the rate it learned, not at what it would have probed up to meanwhile (TCP's rule for an
        application-limited window, RFC 7661)."""
        rate: float = self.current_rate(now)  # type: ignore[assignment]  # capped: a number
        unused_from = self.tat + 1.0 / rate
        if now > unused_from:
            origin = max(self.t_change, self.blocked_until)
            self.t_change = now - max(0.0, unused_from - origin)
            rate = self.current_rate(now)  # type: ignore[assignment]
        return rate

    def _recover(self) -> None:
        self.rate = None
        self.estimating = self.slow_start = False
        log.info("a2agent limiter %s: no 429 for %.0fs, rate cap lifted", self.label, self.s.recover_after)

    def give(self, permit: Permit, outcome: int, now: float, retry_after: float | None) -> str | None:
        """Account for a finished attempt; returns a log message when the rate was cut."""
        self.in_flight -= 1
        if outcome == OK:
            if self.rate is None:
                self.recent.append(permit.t0)
            elif self.estimating and self.est_cut - _WINDOW <= permit.t0 <= self.est_cut:
                self.est_count += 1
                if self.slow_start or self.rate is None or self.est_count * self.s.margin > self.rate:
                    self.rate, self.slow_start = max(self.s.min_rate, self.est_count * self.s.margin), False
            return None
        if outcome != THROTTLED:
            return None
        self.throttled += 1
        self.last_throttle = now
        rate = self.current_rate(now)  # before the pause below moves the growth's origin
        if retry_after:
            self.blocked_until = max(self.blocked_until, now + retry_after)  # one pause for every caller
        if permit.epoch != self.epoch:
            return None  # sent before the last cut: the same congestion, already answered
        self.epoch += 1
        if self.rate is None:  # the first 429: estimate from what the server accepted just before
            count = sum(1 for t0 in self.recent if t0 >= now - _WINDOW)
            self.recent.clear()
            self.estimating, self.est_cut, self.est_count = True, now, count  # later answers may add
            if count:
                self.rate, self.slow_start = max(self.s.min_rate, count * self.s.margin), False
            else:
                self.rate, self.slow_start = max(self.s.min_rate, 1.0), True
        else:
            self.rate = max(self.s.min_rate, (rate or self.s.min_rate) * self.s.backoff)
            self.estimating = self.slow_start = False
        self.t_change = now
        self.tat = max(self.tat, self.blocked_until)
        return f"429: backing off (pause {retry_after or 0:.2f}s, then paced)"

    def snapshot(self, now: float) -> tuple[float | None, int, int]:
        return self.current_rate(now), self.in_flight, self.throttled
