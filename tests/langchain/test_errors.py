"""ChatA2Agent raises LangChain's provider-neutral exception classes, which are also the core's."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import a2agent
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent

MODES = ["invoke", "ainvoke", "stream", "astream"]


async def call(llm: ChatA2Agent, mode: str) -> Any:
    if mode == "invoke":
        return llm.invoke("hi")
    if mode == "ainvoke":
        return await llm.ainvoke("hi")
    if mode == "stream":
        return list(llm.stream("hi"))
    return [c async for c in llm.astream("hi")]


def err(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}


CASES = [
    ("401", {"status": 401, "body": err("Incorrect API key provided.")}, a2agent.AuthenticationError,
     ModelAuthenticationError, False),
    ("403", {"status": 403, "body": err("suspended")}, a2agent.PermissionDeniedError, ModelPermissionDeniedError,
     False),
    ("404", {"status": 404, "body": err("model not found")}, a2agent.NotFoundError, ModelNotFoundError, False),
    ("400", {"status": 400, "body": err("bad temperature")}, a2agent.BadRequestError, ModelInvalidRequestError,
     False),
    ("400_overflow_kimi", {"status": 400, "body": err("Your request exceeded model token limit: 262144")},
     a2agent.BadRequestError, ContextOverflowError, False),
    ("400_overflow_qwen", {"status": 400, "body": err("Range of input length should be [1, 129024]")},
     a2agent.BadRequestError, ContextOverflowError, False),
    ("429", {"status": 429, "body": err("Rate limit reached", "rate_limit_error"), "times": 3},
     a2agent.RateLimitError, ModelRateLimitError, True),
    ("429_quota", {"status": 429, "body": err("Insufficient balance", "insufficient_balance")},
     a2agent.RateLimitError, ModelRateLimitError, False),
    ("500", {"status": 500, "body": err("boom", "server_error"), "times": 3}, a2agent.InternalServerError,
     ModelAPIError, True),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("entry", "core", "neutral", "retryable"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_status_errors_are_both_classes(emu: EmulatorServer, mode: str, entry: dict[str, Any],
                                             core: type[Exception], neutral: type[Exception], retryable: bool) -> None:
    emu.script(entry)
    # limiter off: this table pins the retry policy and the error mapping alone
    llm = ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, max_retries=2, limiter=False)
    llm.client._transport._sleep = lambda seconds: None  # no real back-off waits in this table
    llm.async_client._transport._sleep = _no_sleep
    with pytest.raises(neutral) as info:
        await call(llm, mode)
    error = info.value
    assert isinstance(error, core) and isinstance(error, ModelError)
    assert type(error).__name__ == core.__name__  # tracebacks read as the core class
    assert error.is_retryable is retryable  # type: ignore[attr-defined]
    assert error.status_code == entry["status"]  # type: ignore[attr-defined]
    assert error.attempts == (3 if entry.get("times") else 1)  # type: ignore[attr-defined]


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.mark.parametrize("mode", MODES)
async def test_connection_and_timeout_errors(mode: str, emu: EmulatorServer) -> None:
    refused = ChatA2Agent(api_key=emu.api_key, base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ModelConnectionError) as info:
        await call(refused, mode)
    assert isinstance(info.value, a2agent.APIConnectionError) and info.value.is_retryable
    emu.script({"delay": 30})
    slow = ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, max_retries=0, timeout=0.2)
    with pytest.raises(ModelTimeoutError) as timed_out:
        await call(slow, mode)
    assert isinstance(timed_out.value, a2agent.APITimeoutError)


def test_invalid_input_stays_a_value_error() -> None:
    with pytest.raises(a2agent.InvalidInputError) as info:
        ChatA2Agent(api_key="sk-test-0123456789abcdef", temperature=9)
    assert not isinstance(info.value, ModelError) and isinstance(info.value, ValueError)


def test_provider_neutral_retry_helper_works(emu: EmulatorServer) -> None:
    emu.script({"status": 503, "body": err("busy", "server_error")}, {"content": "recovered"})
    llm = ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)
    retrying = llm.with_retry(retry_if_exception_type=(ModelAPIError,), stop_after_attempt=2,
                              wait_exponential_jitter=False)
    assert retrying.invoke("hi").content == "recovered"
