"""The Redis budget against a real redis-server: processes share one budget; dead holders expire.

Each ``KeyLimiter`` over its own ``RedisBudget`` stands for one process (what they share is Redis
only); one test runs real processes through the emulator.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from a2agent import LimiterError, LimiterSettings
from a2agent._limiter import OK, THROTTLED, KeyLimiter, key_hash
from a2agent._limiter_redis import RedisBudget
from a2agent.emulator import EmulatorConfig, run_emulator

KEY = "sk-redis-test-0123456789abcdef"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def fresh(redis_url: str) -> str:
    import redis

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


def test_a_dead_process_blocks_no_longer_than_its_lease(fresh: str) -> None:
    dead = process(fresh, max_concurrency=1, lease=0.3)
    dead.acquire(timeout=5)  # never released: the process "died"
    alive = process(fresh, max_concurrency=1, lease=0.3)
    alive.release(alive.acquire(timeout=10), OK)  # granted once the lease ran out


def test_redis_keys_carry_a_hash_never_the_key(fresh: str, redis_url: str) -> None:
    import redis

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
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "in-process" in warnings[0].getMessage()
    assert limiter.stats().backend.startswith("local")


WORKER = """
import sys
from a2agent import A2AgentClient
client = A2AgentClient(base_url=sys.argv[1], api_key=sys.argv[2], limiter={"redis_url": sys.argv[3]})
for _ in range(int(sys.argv[4])):
    client.chat_completions({"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]})
print(client.limiter_stats().backend)
"""


def test_processes_sharing_a_key_through_redis_all_finish(fresh: str) -> None:
    with run_emulator(EmulatorConfig(rate_limit=(10, 0.5), accept_any_key=True)) as emu:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, emu.base_url, KEY, fresh, "8"], cwd=ROOT,
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
