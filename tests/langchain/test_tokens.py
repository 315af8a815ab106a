"""ChatA2Agent counts tokens offline, and its counts are what the (emulated) gateway bills:
``get_num_tokens_from_messages`` against the ``input_tokens`` of the same messages sent, for text,
system prompts, tool schemas, tool calls and results, and images, in both wire formats, with the
exact vocabularies and with the approximation (the ``[tokenizers]`` extra absent)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import trim_messages

from a2agent import InvalidInputError, token_counter
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
    # the Messages format merges the system prompts and consecutive turns, and drops `name`
    "two_systems": ([SystemMessage("Answer briefly."), SystemMessage("Answer in French."),
                     HumanMessage("What is the capital of France?")], []),
    "two_users": ([HumanMessage("Hi, I am Ann."), HumanMessage("What is the capital of France?")], []),
    "named": ([HumanMessage("What is the capital of France?", name="ann")], []),
}


@pytest.mark.parametrize("model", ["deepseek-chat", "kimi-k2.5", "qwen3.7-plus", "glm-5"])
def test_predicted_tokens_are_the_billed_input_tokens(vocabulary: str, model: str, fmt: str,
                                                      a2agent_emulator: EmulatorServer) -> None:
    llm = ChatA2Agent(model=model, base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key,
                      api_format=fmt, thinking=False)
    for name, (messages, tools) in CONVERSATIONS.items():
        if name == "image" and model in ("deepseek-chat", "glm-5"):
            continue  # no images for these: kimi-k2.5 and qwen3.7-plus carry that row
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


@pytest.mark.parametrize("model", ["deepseek-chat", "glm-5"])
def test_strict_tools_are_counted_as_bind_tools_sends_them(model: str, fmt: str,
                                                           a2agent_emulator: EmulatorServer) -> None:
    llm = ChatA2Agent(model=model, base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key,
                      api_format=fmt, thinking=False)
    messages = [HumanMessage("Please add 2 and 3")]
    predicted = llm.get_num_tokens_from_messages(messages, tools=[add, multiply], strict=True)
    reply = llm.bind_tools([add, multiply], strict=True).invoke(messages)
    assert reply.usage_metadata is not None and reply.usage_metadata["input_tokens"] == predicted
    assert predicted > llm.get_num_tokens_from_messages(messages, tools=[add, multiply])  # the strict schema


BAD_INPUT: dict[str, tuple[Any, str]] = {
    "num_tokens_int": (lambda llm: llm.get_num_tokens(123), "text must be a string, got int"),
    "num_tokens_bytes": (lambda llm: llm.get_num_tokens(b"hi"), "text must be a string, got bytes"),
    "num_tokens_none": (lambda llm: llm.get_num_tokens(None), "text must be a string, got None"),
    "num_tokens_lone_surrogate": (lambda llm: llm.get_num_tokens("\ud800"), "text cannot be encoded as UTF-8"),
    "token_ids_int": (lambda llm: llm.get_token_ids(123), "text must be a string, got int"),
    "token_ids_none": (lambda llm: llm.get_token_ids(None), "text must be a string, got None"),
    "messages_none": (lambda llm: llm.get_num_tokens_from_messages(None), "messages must be a list"),
    "message_str": (lambda llm: llm.get_num_tokens_from_messages(["hi"]), "messages[0]: unsupported message type"),
    "text_block_int": (lambda llm: llm.get_num_tokens_from_messages(
        [SystemMessage("s"), HumanMessage([{"type": "text", "text": 123}])]),
        "messages[1].content[0].text must be a string, got int"),
    "system_text_block_none": (lambda llm: llm.get_num_tokens_from_messages(
        [SystemMessage([{"type": "text", "text": None}])]), "messages[0].content[0].text must be a string, got None"),
    "lone_surrogate_message": (lambda llm: llm.get_num_tokens_from_messages([HumanMessage("a\ud800")]),
                               "messages[0].content cannot be encoded as UTF-8"),
    "tool_call_args_not_json": (lambda llm: llm.get_num_tokens_from_messages(
        [AIMessage("", tool_calls=[{"name": "x", "args": {"a": object()}, "id": "c"}])]),
        "messages[0].tool_calls[0].args is not JSON-serializable"),
    "tool_int": (lambda llm: llm.get_num_tokens_from_messages([HumanMessage("hi")], tools=[1]),
                 "tools[0] is not a valid tool"),
    "tools_not_a_list": (lambda llm: llm.get_num_tokens_from_messages([HumanMessage("hi")], tools=add),
                         "tools must be a list of tools"),
}


@pytest.mark.parametrize("model", ["deepseek-chat", "glm-5"])
@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_to_the_counting_methods_is_invalid_input(vocabulary: str, model: str, name: str) -> None:
    """The same typed error with or without the extra, exact vocabulary or not."""
    call, message = BAD_INPUT[name]
    llm = ChatA2Agent(model=model, api_key="sk-test-0123456789abcdef")
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        call(llm)


def test_a_text_block_that_is_not_a_string_is_never_sent(fmt: str, a2agent_emulator: EmulatorServer) -> None:
    llm = ChatA2Agent(model="glm-5", base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key,
                      api_format=fmt)
    with pytest.raises(InvalidInputError, match=re.escape("messages[0].content[0].text must be a string")):
        llm.invoke([HumanMessage([{"type": "text", "text": 123}])])
    with pytest.raises(InvalidInputError, match=re.escape("messages[0].tool_calls[0].args is not JSON")):
        llm.invoke([AIMessage("", tool_calls=[{"name": "x", "args": {"a": object()}, "id": "c"}])])
    assert a2agent_emulator.requests == []
