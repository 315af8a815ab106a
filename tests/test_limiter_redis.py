"""The Redis budget against a real redis-server: processes share one budget; dead holders expire.

Each ``KeyLimiter`` over its own ``RedisBudget`` stands for one process (what they share is Redis
only); real processes run where a process must die or where the emulator counts what they sent.
Times asserted are Redis's own (the permits' grant times, ``TIME``), never how long a test took.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from a2agent import LimiterError, LimiterSettings, _limiter_redis
from a2agent._limiter import OK, THROTTLED, KeyLimiter, Permit, key_hash
from a2agent._limiter_redis import RedisBudget
from a2agent.emulator import EmulatorConfig, run_emulator

redis = pytest.importorskip("redis")

KEY = "sk-redis-test-0123456789abcdef"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def fresh(redis_url: str) -> str:
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


def process(url: str, **settings: Any) -> KeyLimiter:
    s = LimiterSettings(redis_url=url, **settings)
    return KeyLimiter(s, label="test", budget=RedisBudget(s, url, "shared"))


def test_processes_share_the_concurrency_cap(fresh: str) -> None:
    a, b = process(fresh, max_concurrency=2), process(fresh, max_concurrency=2)
    held = [a.acquire(timeout=5), a.acquire(timeout=5)]
    assert a.stats().backend == "redis" and b.stats().in_flight == 2
    with pytest.raises(LimiterError):
        b.acquire(timeout=0.1)
    a.release(held.pop(), OK)
    b.release(b.acquire(timeout=5), OK)
    a.release(held.pop(), OK)
    assert b.stats().in_flight == 0


def test_a_429_in_one_process_slows_every_process(fresh: str) -> None:
    a, b = process(fresh), process(fresh)
    permits = [a.acquire(timeout=5) for _ in range(5)]
    for p in permits[:4]:
        a.release(p, OK)
    a.release(permits[4], THROTTLED, 0.3)
    stats = b.stats()
    assert stats.throttled == 1 and stats.rate == pytest.approx(3.8)  # 95% of the 4 accepted
    wait, permit = b.budget.take(0.0)
    assert permit is None and 0 < wait <= 0.3  # b waits out a's pause


def test_redis_keys_carry_a_hash_never_the_key(fresh: str, redis_url: str) -> None:
    from a2agent import A2AgentClient

    client = A2AgentClient(api_key=KEY, base_url="http://127.0.0.1:9/v1", limiter={"redis_url": redis_url})
    limiter = client.config.limiter
    assert limiter is not None
    limiter.release(limiter.acquire(timeout=5), OK)
    names = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*")]
    assert names and all(KEY not in n and key_hash(KEY) not in n for n in names)
    assert all(n.startswith("a2agent:limiter:") for n in names)


def test_unreachable_redis_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = process("redis://127.0.0.1:9/0")
    with caplog.at_level(logging.WARNING, logger="a2agent"):
        for _ in range(3):
            limiter.release(limiter.acquire(timeout=5), OK)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("a2agent")]
    assert len(warnings) == 1 and "in-process" in warnings[0].getMessage()
    assert limiter.stats().backend.startswith("local")


WORKER = """
import asyncio, sys
from a2agent import A2AgentClient, AsyncA2AgentClient
url, key, redis_url, calls, mode = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
if mode == "sync":
    client = A2AgentClient(base_url=url, api_key=key, limiter={"redis_url": redis_url})
    for _ in range(calls):
        client.chat_completions(body)
else:
    client = AsyncA2AgentClient(base_url=url, api_key=key, limiter={"redis_url": redis_url})
    async def batch():
        await asyncio.gather(*(client.chat_completions(body) for _ in range(calls)))
    asyncio.run(batch())
print(client.limiter_stats().backend)
"""


def test_processes_sharing_a_key_through_redis_all_finish(fresh: str, mode: str) -> None:
    with run_emulator(EmulatorConfig(rate_limit=(10, 0.5), accept_any_key=True)) as emu:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, emu.base_url, KEY, fresh, "8", mode], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outs]
    assert [o[0].strip() for o in outs] == ["redis"] * 3
    assert sum(ok for _, ok in emu.state.arrivals) == 24


def test_the_shared_cap_is_lifted_after_recover_after(fresh: str, caplog: pytest.LogCaptureFixture) -> None:
    a = process(fresh, recover_after=0.2)
    permits = [a.acquire(timeout=5) for _ in range(2)]
    a.release(permits[0], OK)
    a.release(permits[1], THROTTLED, None)
    assert a.stats().rate is not None
    with caplog.at_level(logging.INFO, logger="a2agent"):
        wait_out = process(fresh, recover_after=0.2)
        for _ in range(200):  # Redis's clock decides; each try is a bounded wait
            a.release(wait_out.acquire(timeout=5), OK)
            if a.stats().rate is None:
                break
            threading.Event().wait(0.01)
    assert a.stats().rate is None
    assert any("cap lifted" in r.getMessage() for r in caplog.records)


# -- one budget for every process: after a 429, a later process, max_rate ------------------------
def grant_times(limiters: list[KeyLimiter], total: int, threads: int = 2) -> list[float]:
    """``threads`` threads per limiter take and give back permits until ``total`` were granted;
    the grant times, on Redis's clock."""
    grants: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(limiter: KeyLimiter) -> None:
        try:
            while True:
                permit = limiter.acquire(timeout=30)
                limiter.release(permit, OK)
                with lock:
                    if len(grants) >= total:
                        return
                    grants.append(permit.t0)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(lim,)) for lim in limiters for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors and len(grants) == total
    return sorted(grants)


def paced(grants: list[float], rate: float, catch_up: float = 0.5) -> bool:
    """Every grant no earlier than a schedule at ``rate`` allows (less ``catch_up`` of a step)."""
    return all(t >= grants[0] + (i - catch_up) / rate - 2e-4 for i, t in enumerate(grants))


def test_a_429_paces_every_process_at_once_queued_calls_included(fresh: str) -> None:
    s = {"max_concurrency": 10, "growth": 0.0, "growth_step": 0.0}
    a, b = process(fresh, **s), process(fresh, **s)
    first = a.acquire(timeout=5)
    held = [b.acquire(timeout=5) for _ in range(9)]  # the shared cap reached: b's next calls queue
    queued: list[Permit] = []
    waiting = [threading.Thread(target=lambda: queued.append(b.acquire(timeout=30))) for _ in range(3)]
    for t in waiting:
        t.start()
    for _ in range(2000):
        if b.stats().queued == 3:
            break
        threading.Event().wait(0.005)
    assert b.stats().queued == 3
    a.release(first, THROTTLED, 0.3)  # a's 429 ...
    for p in held:
        b.release(p, OK)  # ... and b's successes sent before it: the estimate, 95% of 9
    for t in waiting:
        t.join(30)
    pause_end = float(redis.Redis.from_url(fresh).hget(a.budget.keys[0], "blocked"))  # type: ignore[attr-defined]
    assert len(queued) == 3 and all(p.t0 >= pause_end for p in queued)  # b's queued calls waited it out
    for p in queued:
        b.release(p, OK)
    grants = grant_times([a, b], 8)
    assert a.stats().rate == pytest.approx(9 * 0.95)
    assert paced(sorted([p.t0 for p in queued]) + grants, 9 * 0.95)


def test_a_process_started_later_is_paced_at_the_learned_rate_from_its_first_request(fresh: str) -> None:
    s = {"recover_after": 3600.0, "growth": 0.05, "growth_step": 1.0}  # idle growth would be large
    a = process(fresh, **s)
    permits = [a.acquire(timeout=5) for _ in range(11)]
    for p in permits[:10]:
        a.release(p, OK)
    a.release(permits[10], THROTTLED, None)
    assert a.stats().rate == pytest.approx(9.5)
    client = redis.Redis.from_url(fresh)  # the key idles 20 s: every time in its state moves back
    state = a.budget.keys[0]  # type: ignore[attr-defined]
    for field in ("tchg", "tat", "blocked", "lastthr", "estcut"):
        value = client.hget(state, field)
        if value is not None:
            client.hset(state, field, repr(float(value) - 20.0))
    late = process(fresh, **s)  # a new worker: its first requests are paced at what a learned
    assert paced(grant_times([late], 6, threads=3), 11.0)  # (grown by 1 s of use at most, not 20 s idle)


def test_max_rate_is_the_aggregate_of_every_process_from_the_first_request(fresh: str) -> None:
    a, b = process(fresh, max_rate=10.0), process(fresh, max_rate=10.0)
    grants = grant_times([a, b], 16)
    assert paced(grants, 10.0, catch_up=0.0)  # never a catch-up step at max_rate
    a.release(a.acquire(timeout=5), THROTTLED, None)  # a 429 anyway: a cut from max_rate, no estimate
    assert b.stats().rate == pytest.approx(9.0)


# -- leases: renewed while the process lives, freed one lease after it died -----------------------
def redis_time(client: Any) -> float:
    seconds, micros = client.time()
    return float(seconds + micros / 1e6)


def wait_for_redis_time(client: Any, when: float) -> None:
    for _ in range(3000):  # bounded: 30 s of polling; Redis's clock decides
        if redis_time(client) > when:
            return
        threading.Event().wait(0.01)
    raise AssertionError("Redis's clock did not advance")


def test_a_live_slot_outlives_its_lease(fresh: str) -> None:
    client = redis.Redis.from_url(fresh)
    holder, other = process(fresh, max_concurrency=1, lease=1.5), process(fresh, max_concurrency=1, lease=1.5)
    permit = holder.acquire(timeout=5)
    slots = holder.budget.keys[1]  # type: ignore[attr-defined]
    first_expiry = client.zscore(slots, permit.lease)
    wait_for_redis_time(client, first_expiry + 1.0)  # a long stream: its first lease ran out a second ago
    assert client.zscore(slots, permit.lease) > redis_time(client)  # renewed, still counted
    wait, granted = other.budget.take(0.0)
    assert granted is None and wait < 0  # the shared cap holds: ask again soon (a slot poll)
    holder.release(permit, OK)
    assert client.zcard(slots) == 0
    heartbeat = holder.budget.heartbeat  # type: ignore[attr-defined]
    for _ in range(1000):
        if heartbeat.thread is None:
            break
        threading.Event().wait(0.01)
    assert heartbeat.thread is None  # nothing held: no renewals, no thread


HOLDER = """
import sys, time
from a2agent import LimiterSettings
from a2agent._limiter import KeyLimiter
from a2agent._limiter_redis import RedisBudget
s = LimiterSettings(redis_url=sys.argv[1], max_concurrency=1, lease=1.5)
limiter = KeyLimiter(s, label="test", budget=RedisBudget(s, sys.argv[1], "shared"))
print(limiter.acquire(timeout=10).lease, flush=True)
time.sleep(600)
"""


def test_a_killed_process_frees_its_slot_one_lease_later(fresh: str) -> None:
    client = redis.Redis.from_url(fresh)
    child = subprocess.Popen([sys.executable, "-c", HOLDER, fresh], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        lease = child.stdout.readline().strip()
        slots = process(fresh).budget.keys[1]  # type: ignore[attr-defined]
        wait_for_redis_time(client, client.zscore(slots, lease) + 1.0)
        assert client.zscore(slots, lease) > redis_time(client)  # the live process renews it
        alive = process(fresh, max_concurrency=1, lease=1.5)
        assert alive.budget.take(0.0)[1] is None
    finally:
        child.kill()
        child.wait(10)
    died = redis_time(client)
    permit = alive.acquire(timeout=30)  # granted once the dead process's lease ran out
    assert permit.t0 <= died + 1.5 + 5.0  # one lease (and a generous margin for a busy machine)
    alive.release(permit, OK)


# -- event loops: Redis is awaited, never blocks a loop; one client per loop ----------------------
class SlowProxy:
    """A TCP proxy to Redis on 127.0.0.1 that holds Redis's replies while ``gate`` is closed;
    ``asked`` is set when a request goes through."""

    def __init__(self, redis_url: str) -> None:
        self.target = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        self.gate, self.asked = threading.Event(), threading.Event()
        self.gate.set()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(conn, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if replies:
                    self.gate.wait(60)
                else:
                    self.asked.set()
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def slow(fresh: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowProxy]:
    monkeypatch.setattr(_limiter_redis, "_SOCKET_TIMEOUT", 60.0)  # the gate ends the waits, not a timeout
    proxy = SlowProxy(fresh)
    yield proxy
    proxy.gate.set()
    proxy.sock.close()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(10_000):  # bounded: 10 s of polling
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never met")


async def test_a_slow_redis_does_not_block_the_event_loop(slow: SlowProxy) -> None:
    limiter = process(slow.url)
    await limiter.arelease(await limiter.aacquire(timeout=5), OK)  # connected, scripts loaded
    slow.gate.clear()
    slow.asked.clear()
    task = asyncio.create_task(limiter.aacquire(timeout=60))
    await until(slow.asked.is_set)  # the take is in Redis, its answer held back ...
    ran = [await asyncio.sleep(0, result=i) for i in range(100)]  # ... and the loop runs other work
    assert len(ran) == 100 and not task.done()
    slow.gate.set()
    permit = await task
    await limiter.arelease(permit, OK)
    assert limiter.stats().backend == "redis" and limiter.stats().in_flight == 0


async def test_a_take_cancelled_mid_round_trip_gives_its_slot_back(slow: SlowProxy, fresh: str) -> None:
    client = redis.Redis.from_url(fresh)
    limiter = process(slow.url, max_concurrency=1)
    await limiter.arelease(await limiter.aacquire(timeout=5), OK)
    slots = limiter.budget.keys[1]  # type: ignore[attr-defined]
    slow.gate.clear()
    slow.asked.clear()
    task = asyncio.create_task(limiter.aacquire(timeout=60))
    await until(lambda: client.zcard(slots) == 1)  # Redis granted the slot; the answer is held back
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    slow.gate.set()
    await until(lambda: client.zcard(slots) == 0)  # the granted permit went back once it arrived
    await limiter.arelease(await limiter.aacquire(timeout=5), OK)  # and the key is usable


async def test_a_burst_of_async_calls_asks_redis_one_at_a_time(fresh: str) -> None:
    client = redis.Redis.from_url(fresh)
    before = len(client.client_list())
    limiter = process(fresh)

    async def one() -> None:
        await limiter.arelease(await limiter.aacquire(timeout=30), OK)

    await asyncio.gather(*(one() for _ in range(50)))
    # the queue's head asks (one connection), the releases share it or one more; the heartbeat: one
    assert len(client.client_list()) - before <= 3
    assert limiter.stats().in_flight == 0


def test_one_limiter_from_several_event_loops(fresh: str) -> None:
    limiter = process(fresh, max_concurrency=4)
    errors: list[BaseException] = []

    async def batch() -> None:
        async def one() -> None:
            await limiter.arelease(await limiter.aacquire(timeout=30), OK)

        await asyncio.gather(*(one() for _ in range(10)))

    def run() -> None:
        try:
            asyncio.run(batch())
        except BaseException as exc:  # reported below
            errors.append(exc)

    run()
    run()  # a second asyncio.run: a new loop, a new client
    threads = [threading.Thread(target=run) for _ in range(3)]  # three loops at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    stats = limiter.stats()
    assert stats.backend == "redis" and stats.in_flight == 0
    assert len(limiter.budget._aclients) == 0  # type: ignore[attr-defined]  # each closed with its loop


def test_the_fallback_warning_names_no_redis_password(caplog: pytest.LogCaptureFixture) -> None:
    for url in ("redis://:S3cretPW@127.0.0.1:9/0", "redis://127.0.0.1:9/0?password=S3cretPW"):
        limiter = process(url)
        with caplog.at_level(logging.WARNING, logger="a2agent"):
            limiter.release(limiter.acquire(timeout=5), OK)
        assert "S3cretPW" not in caplog.text and "127.0.0.1:9/0" in caplog.text
        caplog.clear()


def test_settings_given_later_reach_the_redis_budget(fresh: str, caplog: pytest.LogCaptureFixture) -> None:
    from a2agent import A2AgentClient

    base = "http://127.0.0.1:9/v1"
    first = A2AgentClient(api_key=KEY, base_url=base, limiter=LimiterSettings(redis_url=fresh, max_concurrency=1))
    later = A2AgentClient(api_key=KEY, base_url=base, limiter=LimiterSettings(redis_url=fresh, max_concurrency=3))
    limiter = later.config.limiter
    assert limiter is first.config.limiter and limiter is not None
    held = [limiter.acquire(timeout=5) for _ in range(3)]  # the cap in force in Redis is the later one
    assert later.limiter_stats().in_flight == 3 and later.limiter_stats().max_concurrency == 3
    with pytest.raises(LimiterError) as info:
        limiter.acquire(timeout=0.1)
    assert "pace" not in str(info.value) and "bounded by" in str(info.value)  # a wait for a slot, said so
    for permit in held:
        limiter.release(permit, OK)
    with caplog.at_level(logging.WARNING, logger="a2agent"):  # another backend later: said, not silently dropped
        A2AgentClient(api_key=KEY, base_url=base, limiter=LimiterSettings(redis_url="", max_concurrency=2))
    assert "redis_url given later is not applied" in caplog.text and KEY not in caplog.text
