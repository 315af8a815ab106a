"""The limiter's decisions on a fake clock, and its waiting (threads, event loops) without timing claims.

Every wait here is bounded (timeouts of a few seconds at most, on waits that end at once when the
code is right); nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
from typing import Any

import pytest

from a2agent import InvalidInputError, LimiterError, LimiterSettings
from a2agent._limiter import OK, OTHER, THROTTLED, KeyLimiter, LocalBudget, Permit, limiter_for, resolve_limiter

KEY = "sk-limiter-test-0123456789"


def burst(budget: LocalBudget, n: int, now: float = 0.0) -> list[Permit]:
    permits = []
    for _ in range(n):
        wait, permit = budget.take(now)
        assert wait == 0 and permit is not None
        permits.append(permit)
    return permits


# -- the budget's decisions (pure, fake clock) -----------------------------------------------------
def test_uncapped_until_the_first_429() -> None:
    budget = LocalBudget(LimiterSettings(max_concurrency=100))
    burst(budget, 100)
    assert budget.take(0.0) == (math.inf, None)  # the concurrency cap, nothing else
    assert budget.current_rate(0.0) is None


def test_first_429_paces_at_what_the_server_accepted_and_pauses_everyone_once() -> None:
    budget = LocalBudget(LimiterSettings())
    permits = burst(budget, 64)
    for p in permits[:20]:
        budget.give(p, OK, 0.01, None)
    assert budget.give(permits[20], THROTTLED, 0.02, 0.98) is not None  # the cut: logged
    for p in permits[21:]:  # the same burst's 429s: the same congestion, no second cut, no longer pause
        assert budget.give(p, THROTTLED, 0.03, 0.97) is None
    assert budget.rate == pytest.approx(19.0)  # 95% of the 20 accepted in the second before
    assert budget.throttled == 44 and budget.epoch == 1
    assert budget.take(0.5)[0] == pytest.approx(0.5)  # one shared pause, until 1.0
    assert budget.take(1.0)[1] is not None
    wait, permit = budget.take(1.0)
    assert permit is None and wait == pytest.approx(1 / 19)  # then paced


def busy(budget: LocalBudget, start: float, end: float) -> tuple[float, Permit]:
    """A key with calls always waiting: each permit taken the moment it is due, until ``end``; the
    last one is kept (time, permit)."""
    now = start
    while True:
        wait, permit = budget.take(now)
        if permit is None:
            now += wait
            continue
        if now >= end:
            return now, permit
        budget.give(permit, OK, now, None)


def test_later_429s_cut_by_backoff_and_the_rate_grows_back_while_busy() -> None:
    s = LimiterSettings(backoff=0.9, growth=0.02, growth_step=0.25)
    budget = LocalBudget(s)
    permits = burst(budget, 11)
    for p in permits[:10]:
        budget.give(p, OK, 0.0, None)
    budget.give(permits[10], THROTTLED, 0.0, None)
    assert budget.rate == pytest.approx(9.5)
    now, permit = busy(budget, 0.001, 10.0)  # sent after the 429: no estimate
    grown = 9.5 * (1 + 0.02 * now) + 0.25 * now  # +2% and +0.25 req/s a second of use
    assert budget.current_rate(now) == pytest.approx(grown)
    assert permit.epoch == 1
    budget.give(permit, THROTTLED, now, 0.5)
    assert budget.rate == pytest.approx(grown * 0.9)
    assert budget.blocked_until == pytest.approx(now + 0.5)


@pytest.mark.parametrize("idle", [2.0, 20.0, 600.0], ids=["2s", "20s", "10min"])
def test_an_idle_key_keeps_the_rate_it_learned(idle: float) -> None:
    """A second batch after a pause starts at the learned rate, not at what the rate would have
    grown to meanwhile (growth counts only time the key used its pace)."""
    budget = LocalBudget(LimiterSettings(recover_after=3600.0))
    permits = burst(budget, 11)
    for p in permits[:10]:
        budget.give(p, OK, 0.0, None)
    budget.give(permits[10], THROTTLED, 0.0, None)
    now, permit = busy(budget, 0.001, 1.0)
    budget.give(permit, OK, now, None)
    learned = budget.current_rate(now)
    assert learned is not None and learned < 9.5 * 1.02 + 0.3  # a second of growth
    later = now + idle
    assert budget.take(later)[1] is not None
    assert budget.current_rate(later) == pytest.approx(learned, rel=0.01)
    wait, none = budget.take(later)
    assert none is None and wait == pytest.approx(0.5 / learned, rel=0.02)  # paced from the first request


def test_max_rate_is_never_exceeded_not_even_catching_up() -> None:
    budget = LocalBudget(LimiterSettings(max_rate=10.0))
    grants, now = [], 100.0
    while len(grants) < 40:
        wait, permit = budget.take(now)
        if permit is None:
            now += wait + 0.013  # every wake-up late: a late one may not catch up at max_rate
            continue
        grants.append(now)
        budget.give(permit, OK, now, None)
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(grants))


def test_no_429_for_recover_after_lifts_the_cap() -> None:
    budget = LocalBudget(LimiterSettings(recover_after=30.0))
    permits = burst(budget, 3)
    budget.give(permits[0], OK, 0.0, None)
    budget.give(permits[1], THROTTLED, 0.0, None)
    assert budget.rate is not None
    budget.give(permits[2], OK, 1.0, None)
    assert budget.take(29.0)[1] is not None and budget.rate is not None
    assert budget.take(31.0)[1] is not None and budget.rate is None  # recovered: uncapped again


def test_back_off_and_recovery_are_logged_once_each_with_the_short_hash(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = limiter_for("http://log.test/v1", KEY, LimiterSettings(recover_after=30.0))
    limiter.clock = lambda: now[0]
    with caplog.at_level(logging.INFO, logger="a2agent"):
        permits = [limiter.acquire(timeout=1.0) for _ in range(3)]
        limiter.release(permits[0], OK)
        limiter.release(permits[1], THROTTLED, 0.5)
        limiter.release(permits[2], THROTTLED, 0.5)  # the same congestion: no second line
        now[0] = 40.0
        limiter.release(limiter.acquire(timeout=1.0), OK)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("a2agent")]
    assert len(lines) == 2 and "backing off" in lines[0] and "cap lifted" in lines[1]
    assert all(limiter.label in line and KEY not in line for line in lines)


def test_a_429_with_no_success_before_it_starts_slow_and_doubles() -> None:
    budget = LocalBudget(LimiterSettings())
    (permit,) = burst(budget, 1)
    budget.give(permit, THROTTLED, 0.0, None)
    assert budget.current_rate(0.0) == pytest.approx(1.0)
    assert budget.current_rate(3.0) == pytest.approx(8.0)


def test_max_rate_paces_from_the_start() -> None:
    budget = LocalBudget(LimiterSettings(max_rate=4.0))
    assert budget.take(0.0)[1] is not None
    assert budget.take(0.0)[0] == pytest.approx(0.25)  # 1/4 s apart
    assert budget.take(0.25)[1] is not None


def test_other_outcomes_only_free_the_slot() -> None:
    budget = LocalBudget(LimiterSettings(max_concurrency=1))
    (permit,) = burst(budget, 1)
    budget.give(permit, OTHER, 0.0, None)
    assert budget.in_flight == 0 and budget.throttled == 0 and budget.rate is None


@pytest.mark.parametrize("value, expected", [
    (None, LimiterSettings()), (True, LimiterSettings()), (False, None),
    ({"max_concurrency": 4}, LimiterSettings(max_concurrency=4)),
], ids=["none", "true", "false", "dict"])
def test_resolve(value: Any, expected: LimiterSettings | None) -> None:
    assert resolve_limiter(value) == expected


@pytest.mark.parametrize(("field", "value"), [
    ("max_concurrency", math.nan), ("max_concurrency", 1.5), ("max_concurrency", True), ("max_concurrency", "5"),
    ("max_queue", math.nan), ("max_queue", math.inf), ("max_queue", None), ("max_throttled_retries", math.nan),
    ("max_throttled_retries", None), ("max_rate", "5"), ("max_rate", math.nan), ("max_rate", math.inf),
    ("backoff", None), ("backoff", "0.5"), ("margin", 0), ("growth", math.nan), ("lease", 0), ("min_rate", True),
    ("redis_url", 1), ("redis_url", True),
])
def test_every_bad_setting_is_invalid_input_naming_its_field(field: str, value: Any) -> None:
    # NaN compares False with everything: a NaN cap would be no cap at all, silently
    for make in (lambda: LimiterSettings(**{field: value}), lambda: resolve_limiter({field: value})):
        with pytest.raises(InvalidInputError, match=f"LimiterSettings.{field} must be"):
            make()


def test_a_redis_password_never_reaches_a_settings_repr() -> None:
    for url in ("redis://:S3cretPW@127.0.0.1:6379/0", "redis://user:S3cretPW@127.0.0.1:6379/0",
                "redis://127.0.0.1:6379/0?password=S3cretPW", "unix:///tmp/redis.sock?password=S3cretPW",
                "user:S3cretPW@127.0.0.1:6379", "rediss://user:S3cretPW@127.0.0.1:6379/0"):
        shown = repr(LimiterSettings(redis_url=url))
        assert "S3cretPW" not in shown and "redis_url=" in shown


@pytest.mark.parametrize("kwargs", [{"max_concurrency": 0}, {"max_rate": -1.0}, {"backoff": 1.0},
                                    {"max_wait": math.inf}, {"max_queue": -1}, {"nope": 1}],
                         ids=["concurrency", "rate", "backoff", "wait", "queue", "unknown"])
def test_bad_settings_are_invalid_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        resolve_limiter(kwargs)


def test_registry_shares_per_url_and_key_and_never_holds_the_key() -> None:
    a = limiter_for("http://x/v1", KEY, LimiterSettings())
    assert limiter_for("http://x/v1", KEY, LimiterSettings()) is a
    assert limiter_for("http://y/v1", KEY, LimiterSettings()) is not a
    assert limiter_for("http://x/v1", KEY + "2", LimiterSettings()) is not a
    assert KEY not in repr(a.stats()) and KEY not in a.label and len(a.label) == 8


# -- waiting: safety -------------------------------------------------------------------------------
def hold(limiter: KeyLimiter, n: int = 1) -> list[Permit]:
    return [limiter.acquire(timeout=1.0) for _ in range(n)]


def test_wait_past_the_timeout_is_a_limiter_error_and_leaves_the_queue_clean() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1))
    (permit,) = hold(limiter)
    with pytest.raises(LimiterError) as info:
        limiter.acquire(timeout=0.05)
    assert info.value.reason == "timeout"
    assert limiter.stats().queued == 0
    limiter.release(permit, OK)
    limiter.release(limiter.acquire(timeout=1.0), OK)  # not deadlocked by the one that gave up


def test_max_wait_bounds_every_wait() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1, max_wait=0.05))
    hold(limiter)
    with pytest.raises(LimiterError, match="max_wait"):
        limiter.acquire(timeout=None)


@pytest.mark.parametrize("bound", ["max_wait", "timeout"])
async def test_a_pause_longer_than_a_call_may_wait_fails_it_at_once(bound: str) -> None:
    # The clock stands still: a call that waited for the pause would wait (really) for ever.
    limiter = KeyLimiter(LimiterSettings(max_wait=300.0))
    limiter.clock = lambda: 1000.0
    limiter.release(limiter.acquire(timeout=1.0), THROTTLED, retry_after=500.0)
    timeout = 60.0 if bound == "timeout" else None
    for acquire in (lambda: limiter.acquire(timeout=timeout), lambda: asyncio.run(limiter.aacquire(timeout))):
        with pytest.raises(LimiterError, match=r"500\.0s away.*(call's timeout|max_wait)") as info:
            await asyncio.to_thread(acquire)
        assert info.value.reason == "timeout"
    assert limiter.stats().queued == 0


def test_queue_is_bounded() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1, max_queue=2))
    (permit,) = hold(limiter)
    waiting = [threading.Thread(target=lambda: limiter.release(limiter.acquire(timeout=10.0), OK)) for _ in range(2)]
    for t in waiting:
        t.start()
    wait_until(lambda: limiter.stats().queued == 2)
    with pytest.raises(LimiterError) as info:
        limiter.acquire(timeout=10.0)
    assert info.value.reason == "queue_full"
    limiter.release(permit, OK)
    for t in waiting:
        t.join(10)
        assert not t.is_alive()


def wait_until(condition: Any, limit: float = 10.0) -> None:
    event = threading.Event()
    for _ in range(int(limit / 0.005)):
        if condition():
            return
        event.wait(0.005)
    raise AssertionError("condition not reached")


async def test_a_cancelled_async_waiter_does_not_deadlock_the_key() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1))
    permit = await limiter.aacquire(timeout=1.0)
    task = asyncio.create_task(limiter.aacquire(timeout=30.0))
    behind = asyncio.create_task(limiter.aacquire(timeout=30.0))
    while limiter.stats().queued < 2:
        await asyncio.sleep(0.001)
    task.cancel()  # the head of the queue goes away
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.stats().queued == 1
    limiter.release(permit, OK)
    limiter.release(await asyncio.wait_for(behind, 10), OK)  # the next in line got the slot
    assert limiter.stats().in_flight == 0 and limiter.stats().queued == 0


def test_fifo_no_starvation() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1))
    (permit,) = hold(limiter)
    order: list[int] = []

    def worker(i: int) -> None:
        p = limiter.acquire(timeout=20.0)
        order.append(i)
        limiter.release(p, OK)

    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
        wait_until(lambda i=i: limiter.stats().queued == i + 1)
    limiter.release(permit, OK)
    for t in threads:
        t.join(20)
    assert order == list(range(8))


def test_threads_sharing_a_key_never_exceed_the_cap() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=3))
    lock = threading.Lock()
    now = [0, 0]  # in flight, max seen

    def worker() -> None:
        for _ in range(50):
            p = limiter.acquire(timeout=20.0)
            with lock:
                now[0] += 1
                now[1] = max(now[1], now[0])
            with lock:
                now[0] -= 1
            limiter.release(p, OK)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert now[1] <= 3 and limiter.stats().in_flight == 0


def test_async_callers_on_several_event_loops_share_one_limiter() -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=2))
    lock = threading.Lock()
    now = [0, 0]

    async def one() -> None:
        p = await limiter.aacquire(timeout=20.0)
        with lock:
            now[0] += 1
            now[1] = max(now[1], now[0])
        await asyncio.sleep(0)
        with lock:
            now[0] -= 1
        limiter.release(p, OK)

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(40)))

    threads = [threading.Thread(target=asyncio.run, args=(many(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert now[1] <= 2 and limiter.stats().in_flight == 0 and limiter.stats().queued == 0


@pytest.mark.parametrize("how", ["closed", "stopped"])
def test_a_task_left_on_a_dead_loop_does_not_block_the_key(how: str) -> None:
    limiter = KeyLimiter(LimiterSettings(max_concurrency=1))
    (held,) = hold(limiter)
    loop = asyncio.new_event_loop()
    task = loop.create_task(limiter.aacquire(timeout=30.0))
    for _ in range(100):  # until the task is queued (a few loop turns)
        loop.run_until_complete(asyncio.sleep(0))
        if limiter.stats().queued == 1:
            break
    assert limiter.stats().queued == 1
    if how == "closed":  # e.g. a background loop's thread shut down without cancelling its tasks
        task._log_destroy_pending = False  # type: ignore[attr-defined]  # left pending on purpose
        loop.close()
    limiter.release(held, OK)
    permit = limiter.acquire(timeout=5.0)  # at once: the dead loop's waiter does not hold the head
    limiter.release(permit, OK)
    assert limiter.stats().in_flight == 0
    if how == "stopped":  # its place is kept: run the loop again and the task gets its turn
        limiter.release(loop.run_until_complete(asyncio.wait_for(task, 5.0)), OK)
        loop.close()
    assert limiter.stats().queued == 0 and limiter.stats().in_flight == 0


class _SlowRemote(LocalBudget):
    """A remote budget that records whether the limiter's lock was held while it was asked."""

    remote = True
    name = "fake-remote"

    def __init__(self, settings: LimiterSettings) -> None:
        super().__init__(settings)
        self.limiter: KeyLimiter | None = None
        self.asked_under_lock: list[bool] = []
        self.guard = threading.Lock()

    def _seen(self) -> None:
        assert self.limiter is not None
        self.asked_under_lock.append(self.limiter._lock.locked())

    def ask(self, now: float) -> tuple[float, Permit | None]:
        self._seen()
        with self.guard:
            return super().take(now)

    def give(self, permit: Permit, outcome: int, now: float, retry_after: float | None) -> str | None:
        self._seen()
        with self.guard:
            return super().give(permit, outcome, now, retry_after)

    def snapshot(self, now: float) -> tuple[float | None, int, int]:
        self._seen()
        return super().snapshot(now)


def test_threads_never_ask_a_remote_budget_under_the_lock_event_loops_share() -> None:
    # The lock is taken by event loops too: Redis I/O under it would stall them while Redis is slow.
    settings = LimiterSettings(max_concurrency=2)
    budget = _SlowRemote(settings)
    limiter = KeyLimiter(settings, budget=budget)
    budget.limiter = limiter

    def worker() -> None:
        for _ in range(20):
            limiter.release(limiter.acquire(timeout=10.0), OK)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    limiter.stats()
    assert not any(t.is_alive() for t in threads)
    assert budget.asked_under_lock and not any(budget.asked_under_lock)
    assert limiter.stats().in_flight == 0 and limiter.stats().queued == 0
