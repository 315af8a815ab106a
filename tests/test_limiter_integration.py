"""The limiter through real HTTP: the emulator's rate limit, scripted 429s, streams, the adapters.

Assertions are on server-side counts and outcomes, never on how long anything took.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from typing import Any

import pytest

from a2agent import A2AgentClient, AsyncA2AgentClient, LimiterError, RateLimitError
from a2agent.emulator import EmulatorServer
from tests.conftest import Api

PAYLOAD = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"min_rate": 50.0}  # after a 429 with no success before it, pace from 50/s rather than 1/s: quick tests
THROTTLE = {"status": 429, "headers": {"retry-after-ms": "20"},
            "body": {"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}}}


def make(mode: str, emu: EmulatorServer, **kw: Any) -> Api:
    return Api(mode, base_url=emu.base_url, api_key=emu.api_key, **kw)


async def test_a_batch_over_the_rate_limit_finishes(mode: str, emu: EmulatorServer) -> None:
    emu.state.config.rate_limit = (8, 0.25)
    api = make(mode, emu)
    calls = 24
    if mode == "async":
        sem = asyncio.Semaphore(16)

        async def one() -> Any:
            async with sem:
                return await api.chat(PAYLOAD)

        results = await asyncio.gather(*(one() for _ in range(calls)), return_exceptions=True)
    else:
        results = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(calls // 8):
                try:
                    out: Any = api.client.chat_completions(PAYLOAD)
                except Exception as exc:  # collected, asserted below
                    out = exc
                with lock:
                    results.append(out)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(results) == calls
    admitted = sum(ok for _, ok in emu.state.arrivals)
    assert admitted == calls  # every call got through; the 429s were waited out, none failed
    stats = api.client.limiter_stats()
    assert stats.throttled == emu.state.throttled and stats.in_flight == 0 and stats.queued == 0
    await api.close()


async def test_an_absorbed_429_does_not_use_the_retry_budget(mode: str, emu: EmulatorServer) -> None:
    emu.script({**THROTTLE, "times": 3})
    api = make(mode, emu, max_retries=0, limiter=FAST)
    assert (await api.chat(PAYLOAD))["choices"][0]["message"]["content"]
    assert len(emu.requests) == 4 and api.sleeps == []  # waited in the limiter, not retried by the policy
    assert api.client.limiter_stats().throttled == 3
    await api.close()


async def test_absorbed_429s_are_bounded_then_the_policy_decides(mode: str, emu: EmulatorServer) -> None:
    emu.script({**THROTTLE, "times": 10})
    api = make(mode, emu, max_retries=1, limiter={**FAST, "max_throttled_retries": 2})
    with pytest.raises(RateLimitError):
        await api.chat(PAYLOAD)
    assert len(emu.requests) == 4  # 2 absorbed, then the first attempt and its one retry
    await api.close()


async def test_a_quota_429_is_not_absorbed(mode: str, emu: EmulatorServer) -> None:
    emu.script({"status": 429, "body": {"error": {"message": "Insufficient balance", "code": "insufficient_balance"}}})
    api = make(mode, emu, max_retries=3)
    with pytest.raises(RateLimitError) as info:
        await api.chat(PAYLOAD)
    assert info.value.is_quota_exhausted and len(emu.requests) == 1
    await api.close()


async def test_a_stream_holds_its_slot_until_it_ends(mode: str, emu: EmulatorServer) -> None:
    emu.script(THROTTLE)
    api = make(mode, emu, limiter={**FAST, "max_concurrency": 1}, max_retries=0)
    stream = api.client.stream_chat_completions(PAYLOAD)
    first = next(iter(stream)) if mode == "sync" else await stream.__anext__()
    assert first and api.client.limiter_stats().in_flight == 1  # the 429 was absorbed; the stream is open
    if mode == "sync":
        stream.close()
    else:
        await stream.aclose()
    assert api.client.limiter_stats().in_flight == 0
    assert len(await api.stream(PAYLOAD)) > 1  # the slot is free again
    await api.close()


async def test_a_stream_abandoned_mid_way_gives_its_slot_back_without_the_cycle_collector(
        mode: str, emu: EmulatorServer) -> None:
    api = make(mode, emu, limiter={"max_concurrency": 1}, timeout=30)
    long = {**PAYLOAD, "messages": [{"role": "user", "content": "Tell me a long story about the sea"}]}
    gc.disable()  # only reference counting may free the abandoned stream
    try:
        for _ in range(3):  # each abandoned stream must leave the only slot free for the next
            if mode == "sync":
                for _chunk in api.client.stream_chat_completions(long):
                    break
                assert api.client.limiter_stats().in_flight == 0
            else:
                async for _chunk in api.client.stream_chat_completions(long):
                    break
                # the loop closes an abandoned async generator in a task of its own: let it run
                for _ in range(5000):
                    if api.client.limiter_stats().in_flight == 0:
                        break
                    await asyncio.sleep(0.001)
                assert api.client.limiter_stats().in_flight == 0
    finally:
        gc.enable()
    assert (await api.chat(PAYLOAD))["choices"]
    await api.close()


async def test_an_async_stream_collected_in_a_cycle_closes_quietly(emu: EmulatorServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    # Earlier tests' garbage first: a foreign client collected here may schedule its own close on this
    # loop and fail on its dead loop's sockets; that report is not this stream's.
    gc.collect()
    for _ in range(50):
        await asyncio.sleep(0)
    gc.collect()
    client = AsyncA2AgentClient(base_url=emu.base_url, api_key=emu.api_key, limiter={"max_concurrency": 1})
    long = {**PAYLOAD, "messages": [{"role": "user", "content": "Tell me a long story about the sea"}]}
    caplog.set_level(logging.ERROR, logger="asyncio")
    caplog.clear()
    holder: dict[str, Any] = {}
    holder["cycle"] = holder  # the caller's own cycle: the collector finds both generators at once
    holder["stream"] = client.stream_chat_completions(long)
    async for _chunk in holder["stream"]:
        break
    del holder
    gc.collect()
    for _ in range(5000):
        if client.limiter_stats().in_flight == 0:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # let any failed finalizer task be reported
    gc.collect()
    assert client.limiter_stats().in_flight == 0
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    await client.aclose()


async def test_the_limiter_wait_counts_against_the_call_timeout(mode: str, emu: EmulatorServer) -> None:
    api = make(mode, emu, limiter={"max_concurrency": 1}, timeout=0.2)
    holder = api.client.config.limiter.acquire(timeout=1.0)  # someone else holds the only slot
    with pytest.raises(LimiterError) as info:
        await api.chat(PAYLOAD)
    assert info.value.reason == "timeout" and "timeout" in str(info.value)
    api.client.config.limiter.release(holder, 0)
    assert (await api.chat(PAYLOAD))["choices"]  # nothing left stuck
    await api.close()


def test_clients_of_one_key_share_a_limiter_and_off_means_off(emu: EmulatorServer) -> None:
    a = A2AgentClient(base_url=emu.base_url, api_key=emu.api_key)
    b = AsyncA2AgentClient(base_url=emu.base_url, api_key=emu.api_key)
    assert a.config.limiter is b.config.limiter is not None
    off = A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, limiter=False)
    assert off.limiter_stats() is None


def test_back_off_is_logged_once_with_a_short_hash_never_the_key(emu: EmulatorServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    emu.script({**THROTTLE, "times": 2})
    client = A2AgentClient(base_url=emu.base_url, api_key=emu.api_key)
    with caplog.at_level(logging.INFO, logger="a2agent"):
        client.chat_completions(PAYLOAD)
    lines = [r.getMessage() for r in caplog.records if "limiter" in r.getMessage()]
    assert len(lines) == 2 and all("backing off" in line for line in lines)  # one per cut
    assert all(emu.api_key not in line and client.limiter_stats().key in line for line in lines)


def test_adapters_pass_the_setting_through(emu: EmulatorServer) -> None:
    from langchain_a2agent import A2AgentRateLimiter, ChatA2Agent
    from llama_index_a2agent import A2AgentLLM

    chat = ChatA2Agent(base_url=emu.base_url, api_key=emu.api_key, limiter={"max_concurrency": 7})
    assert chat.limiter_stats().max_concurrency == 7
    assert ChatA2Agent(base_url=emu.base_url, api_key=emu.api_key, limiter=False).limiter_stats() is None
    llm = A2AgentLLM(api_base=emu.base_url, api_key=emu.api_key, limiter={"max_concurrency": 5})
    assert llm.limiter_stats().max_concurrency == 5
    assert llm.limiter_stats().key == chat.limiter_stats().key  # one limiter per key
    assert A2AgentLLM(api_base=emu.base_url, api_key=emu.api_key, limiter=False).limiter_stats() is None
    rate_limiter = A2AgentRateLimiter(api_key=emu.api_key, base_url=emu.base_url)
    assert rate_limiter.acquire() and emu.api_key not in repr(rate_limiter)
    assert rate_limiter.stats().key == chat.limiter_stats().key


def test_a_langchain_model_of_another_package_waits_its_turn_through_the_rate_limiter(emu: EmulatorServer) -> None:
    from langchain_openai import ChatOpenAI

    from langchain_a2agent import A2AgentRateLimiter, ChatA2Agent

    ours = ChatA2Agent(base_url=emu.base_url, api_key=emu.api_key)
    shared = ours.client.config.limiter
    assert shared is not None
    held = shared.acquire(timeout=1.0)
    shared.release(held, 2)
    other = ChatOpenAI(model="deepseek-chat", base_url=emu.base_url, api_key=emu.api_key,  # type: ignore[arg-type]
                       rate_limiter=A2AgentRateLimiter(api_key=emu.api_key, base_url=emu.base_url))
    shared.budget.blocked_until = shared.clock() + 0.3  # as after a 429 seen by ChatA2Agent
    assert other.invoke("hi").content
    assert shared.stats().total_wait > 0  # it waited out the key's pause in the shared queue
