"""ChatA2Agent counts tokens offline, and its counts are what the (emulated) gateway bills:
``get_num_tokens_from_messages`` against the ``input_tokens`` of the same messages sent, for text,
system prompts, tool schemas, tool calls and results, and images, in both wire formats, with the
exact vocabularies and with the approximation (the ``[tokenizers]`` extra absent)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import trim_messages

from a2agent import token_counter
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent
from tests.langchain.test_chat_models import add, multiply

RED_PNG = "data:image/png;base64," + base64.b64encode(
    (Path(__file__).parents[1] / "media" / "red.png").read_bytes()).decode()

CALL = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1", "type": "tool_call"}
CONVERSATIONS: dict[str, tuple[list[BaseMessage], list[Any]]] = {
    "text": ([HumanMessage("What is the capital of France?")], []),
    "system_multi_turn": ([SystemMessage("Answer briefly."), HumanMessage("hi, I am Ann"), AIMessage("Hello Ann!"),
                           HumanMessage("What is my name?")], []),
    "tools": ([HumanMessage("Please add 2 and 3")], [add, multiply]),
    "tool_turn": ([HumanMessage("Please add 2 and 3"), AIMessage("", tool_calls=[CALL]),
                   ToolMessage("5", tool_call_id="call_1")], [add, multiply]),
    "image": ([HumanMessage([{"type": "text", "text": "What is this?"},
                             {"type": "image_url", "image_url": {"url": RED_PNG}}])], []),
}


@pytest.mark.parametrize("model", ["deepseek-chat", "kimi-k2.5"])
def test_predicted_tokens_are_the_billed_input_tokens(vocabulary: str, model: str, fmt: str,
                                                      a2agent_emulator: EmulatorServer) -> None:
    llm = ChatA2Agent(model=model, base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key,
                      api_format=fmt, thinking=False)
    for name, (messages, tools) in CONVERSATIONS.items():
        if name == "image" and model == "deepseek-chat":
            continue  # deepseek-chat takes no images: kimi-k2.5 carries that row
        predicted = llm.get_num_tokens_from_messages(messages, tools=tools)
        sent = llm.bind_tools(tools) if tools else llm
        reply = sent.invoke(messages)
        assert reply.usage_metadata is not None
        assert reply.usage_metadata["input_tokens"] == predicted, name


def test_text_counts_and_ids_come_from_the_models_vocabulary(vocabulary: str) -> None:
    llm = ChatA2Agent(model="deepseek-chat", api_key="sk-test-0123456789abcdef")
    counter = token_counter("deepseek-chat")
    assert llm.get_num_tokens("Hello, world") == counter.count_text("Hello, world") > 0
    assert llm.get_token_ids("Hello, world") == counter.encode("Hello, world")
    assert (len(set(llm.get_token_ids("Hello, world"))) > 1) is (vocabulary == "exact")  # else placeholders


def test_trim_messages_counts_with_the_model(vocabulary: str) -> None:
    llm = ChatA2Agent(model="qwen3.7-max", api_key="sk-test-0123456789abcdef")
    history: list[BaseMessage] = [SystemMessage("You are a helpful assistant.")]
    for i in range(12):
        history += [HumanMessage(f"Question {i}: what is {i} times {i}?"), AIMessage(f"{i} times {i} is {i * i}.")]
    history.append(HumanMessage("And 12 times 12?"))
    budget = llm.get_num_tokens_from_messages(history) // 3
    kept = trim_messages(history, max_tokens=budget, token_counter=llm, strategy="last", include_system=True,
                         start_on="human")
    assert isinstance(kept[0], SystemMessage) and kept[-1] == history[-1] and 3 < len(kept) < len(history)
    assert llm.get_num_tokens_from_messages(kept) <= budget
    start = len(history) - (len(kept) - 1)  # where the kept turns start: with the turn before, the budget
    one_more = [kept[0], *history[start - 2:start], *kept[1:]]  # is reached (LangChain counts the system
    assert llm.get_num_tokens_from_messages(one_more) >= budget  # prompt apart: its priming twice)
