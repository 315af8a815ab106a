"""The README's Troubleshooting section shows the messages the code produces today.

Each ``text`` block of the section is an error message (``str(error)``) regenerated here against
the emulator, or a closed port, with the emulator's address written as the gateway's and the closed
port as the emulator's usual 8765; they must match in order, and the paragraph before each block
must name the error's class. A change of wording in the code fails here until the README follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

import a2agent
from a2agent import A2AgentClient
from a2agent.emulator import NO_BALANCE_KEY, SUSPENDED_KEY, EmulatorServer
from langchain_a2agent import ChatA2Agent
from llama_index_a2agent import A2AgentLLM
from tests.faults.server import closed_port
from tests.test_readme import README

GATEWAY = "https://api.a2agent.me"
HI = {"model": "glm-5", "messages": [{"role": "user", "content": "hi"}]}
WRONG_KEY = "sk-wrong-key-0123456789"


def client(base_url: str, api_key: str = "sk-a2agent-emulator", **kwargs: Any) -> A2AgentClient:
    return A2AgentClient(base_url=base_url, api_key=api_key, _sleep=lambda _: None, **kwargs)  # no back-off waits


def no_key(emu: EmulatorServer) -> Any:
    return A2AgentClient()  # A2AGENT_API_KEY is unset in tests


def no_v1(emu: EmulatorServer) -> Any:
    return client(emu.base_url.removesuffix("/v1")).chat_completions(HI)


def refused(emu: EmulatorServer) -> Any:
    with closed_port() as port:
        return client(f"http://127.0.0.1:{port}/v1").chat_completions(HI)


def wrong_key(emu: EmulatorServer) -> Any:
    return client(emu.base_url, WRONG_KEY).chat_completions(HI)


def suspended(emu: EmulatorServer) -> Any:
    return client(emu.base_url, SUSPENDED_KEY).chat_completions(HI)


def no_balance(emu: EmulatorServer) -> Any:
    return client(emu.base_url, NO_BALANCE_KEY).chat_completions(HI)


def rate_limited(emu: EmulatorServer) -> Any:
    emu.state.config.rate_limit = (1, 600.0)  # one request per 10 minutes (the fixture resets it)
    busy = client(emu.base_url)
    busy.chat_completions(HI)
    return busy.chat_completions(HI)  # told to come back in ~600 s (> 120 s): raised at once


def timed_out(emu: EmulatorServer) -> Any:
    emu.script({"delay": 1.0, "times": 3})  # every attempt waits longer than the timeout
    return client(emu.base_url, timeout=0.2).chat_completions(HI)


def thinking_without_reasoning(emu: EmulatorServer) -> Any:
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    return client(emu.base_url).chat_completions({
        "model": "deepseek-chat", "thinking": {"type": "enabled"},
        "messages": [{"role": "user", "content": "Please add 2 and 3"},
                     {"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "5"}]})


# In the README's order, with what else the section says about the error.
CASES: list[tuple[Callable[[EmulatorServer], Any], dict[str, Any]]] = [
    (no_key, {}),
    (no_v1, {"status_code": 404}),
    (refused, {"attempts": 3}),
    (wrong_key, {"status_code": 401}),
    (suspended, {"status_code": 403}),
    (no_balance, {"status_code": 429, "is_quota_exhausted": True}),
    (rate_limited, {"status_code": 429, "is_quota_exhausted": False}),
    (timed_out, {"attempts": 3}),
    (thinking_without_reasoning, {"status_code": 400}),
]


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def shown() -> list[tuple[str, str]]:
    """(the text since the previous block, the block) for every ``text`` block of the section."""
    parts = re.split(r"```text\n(.*?)```", section("Troubleshooting"), flags=re.S)
    return list(zip(parts[0:-1:2], (block.strip() for block in parts[1::2]), strict=True))


def as_shown(error: a2agent.A2AgentError, emu: EmulatorServer) -> str:
    """The message with the emulator's origin written as the gateway's, a closed port as 8765."""
    own = f"http://127.0.0.1:{emu.port}"
    return re.sub(r"http://127\.0\.0\.1:\d+", lambda m: GATEWAY if m.group(0) == own else "http://127.0.0.1:8765",
                  str(error))


def raised(produce: Callable[[EmulatorServer], Any], emu: EmulatorServer) -> a2agent.A2AgentError:
    with pytest.raises(a2agent.A2AgentError) as caught:
        produce(emu)
    return caught.value


def test_the_section_shows_one_block_per_case() -> None:
    assert len(shown()) == len(CASES)


@pytest.mark.parametrize(("index", "produce", "facts"), [(i, *case) for i, case in enumerate(CASES)],
                         ids=[case[0].__name__ for case in CASES])
def test_readme_shows_the_message_the_code_produces(index: int, produce: Callable[[EmulatorServer], Any],
                                                     facts: dict[str, Any], a2agent_emulator: EmulatorServer) -> None:
    error = raised(produce, a2agent_emulator)
    for name, value in facts.items():
        assert getattr(error, name) == value, name
    before, block = shown()[index]
    assert block == as_shown(error, a2agent_emulator)
    heading = before.strip().rsplit("\n\n", 1)[-1]  # the paragraph just before the block
    assert f"`{type(error).__name__}`" in heading, heading


def test_the_rate_limited_error_says_when_to_come_back(a2agent_emulator: EmulatorServer) -> None:
    error = raised(rate_limited, a2agent_emulator)
    assert isinstance(error, a2agent.RateLimitError) and error.retry_after is not None and error.retry_after > 120


def test_both_adapters_raise_the_same_messages(a2agent_emulator: EmulatorServer) -> None:
    core = raised(wrong_key, a2agent_emulator)
    url = a2agent_emulator.base_url
    via_langchain = raised(lambda _: ChatA2Agent(base_url=url, api_key=WRONG_KEY).invoke("hi"), a2agent_emulator)
    via_llama_index = raised(lambda _: A2AgentLLM(api_base=url, api_key=WRONG_KEY).complete("hi"), a2agent_emulator)
    assert str(via_langchain) == str(via_llama_index) == str(core)
    assert isinstance(via_langchain, a2agent.AuthenticationError) and isinstance(via_llama_index,
                                                                                 a2agent.AuthenticationError)
