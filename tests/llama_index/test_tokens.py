"""A2AgentLLM counts tokens offline: ``count_tokens`` predicts the ``prompt_tokens`` the (emulated)
gateway bills, in both wire formats, with the exact vocabularies and with the approximation; and
``llm.tokenizer`` plugs into LlamaIndex's token counting and chat memory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from a2agent import InvalidInputError, token_counter
from a2agent.emulator import EmulatorServer
from llama_index_a2agent import A2AgentLLM


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(add), FunctionTool.from_defaults(multiply)]
RED_PNG = (Path(__file__).parents[1] / "media" / "red.png").read_bytes()


def make(emu: EmulatorServer, **kwargs: Any) -> A2AgentLLM:
    return A2AgentLLM(api_key=emu.api_key, api_base=emu.base_url, thinking=False, **kwargs)


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


@pytest.mark.parametrize("model", ["qwen3.6-plus", "glm-5"])
def test_predicted_tokens_are_the_billed_prompt_tokens(vocabulary: str, model: str, fmt: str,
                                                       emu: EmulatorServer) -> None:
    llm = make(emu, model=model, api_format=fmt)
    conversation = [ChatMessage(role=MessageRole.SYSTEM, content="Answer briefly."), user("hi, I am Ann"),
                    ChatMessage(role=MessageRole.ASSISTANT, content="Hello Ann!"), user("北京是哪个国家的首都?")]
    assert llm.chat(conversation).raw["usage"]["prompt_tokens"] == llm.count_tokens(conversation)
    first = llm.chat_with_tools(TOOLS, user_msg="Please add 2 and 3")  # a tool call, then its result
    call = llm.get_tool_calls_from_response(first)[0]
    history = [user("Please add 2 and 3"), first.message,
               ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": call.tool_id})]
    final = llm.chat_with_tools(TOOLS, chat_history=history)
    assert final.raw["usage"]["prompt_tokens"] == llm.count_tokens(history, tools=TOOLS)
    if model == "qwen3.6-plus":  # a vision model
        picture = [ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="What is this?"),
                                                              ImageBlock(image=RED_PNG, image_mimetype="image/png")])]
        assert llm.chat(picture).raw["usage"]["prompt_tokens"] == llm.count_tokens(picture)


def system(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.SYSTEM, content=text)


@pytest.mark.parametrize("model", ["kimi-k2.5", "deepseek-chat", "qwen3.7-plus"])
def test_what_the_messages_format_merges_is_counted_as_sent(vocabulary: str, model: str, fmt: str,
                                                            emu: EmulatorServer) -> None:
    """Two system prompts become one, two user turns become one: the prediction follows api_format."""
    llm = make(emu, model=model, api_format=fmt)
    for messages in ([system("Answer briefly."), system("Answer in French."), user("What is the capital of France?")],
                     [user("Hi, I am Ann."), user("What is the capital of France?")]):
        assert llm.chat(messages).raw["usage"]["prompt_tokens"] == llm.count_tokens(messages)


def test_strict_tools_are_counted_as_they_are_sent(fmt: str, emu: EmulatorServer) -> None:
    loose, strict = make(emu, model="glm-5", api_format=fmt), make(emu, model="glm-5", api_format=fmt, strict=True)
    messages = [user("Please add 2 and 3")]
    usage = strict.chat_with_tools(TOOLS, user_msg=messages[0]).raw["usage"]
    assert usage["prompt_tokens"] == strict.count_tokens(messages, tools=TOOLS) \
        == loose.count_tokens(messages, tools=TOOLS, strict=True) > loose.count_tokens(messages, tools=TOOLS)


BAD_INPUT: dict[str, tuple[Any, str]] = {
    "tokenizer_int": (lambda llm: llm.tokenizer(123), "text must be a string, got int"),
    "tokenizer_none": (lambda llm: llm.tokenizer(None), "text must be a string, got None"),
    "tokenizer_lone_surrogate": (lambda llm: llm.tokenizer("\ud800"), "text cannot be encoded as UTF-8"),
    "messages_none": (lambda llm: llm.count_tokens(None), "messages must be a list of ChatMessage, got None"),
    "message_str": (lambda llm: llm.count_tokens(["hi"]), "messages[0] must be a ChatMessage, got str"),
    "lone_surrogate_message": (lambda llm: llm.count_tokens([user("a\ud800")]),
                               "messages[0].content cannot be encoded as UTF-8"),
    "tool_int": (lambda llm: llm.count_tokens([user("hi")], tools=[1]),
                 "tools[0] must be a LlamaIndex tool (BaseTool), got int"),
}


@pytest.mark.parametrize("model", ["deepseek-chat", "glm-5"])
@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_to_the_counting_methods_is_invalid_input(vocabulary: str, model: str, name: str) -> None:
    call, message = BAD_INPUT[name]
    llm = A2AgentLLM(model=model, api_key="sk-test-0123456789abcdef")
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        call(llm)


def test_the_tokenizer_is_the_models_vocabulary(vocabulary: str, emu: EmulatorServer) -> None:
    tokenizer = make(emu, model="deepseek-chat").tokenizer
    assert tokenizer("Hello, world") == token_counter("deepseek-chat").encode("Hello, world")
    assert (len(set(tokenizer("Hello, world"))) > 1) is (vocabulary == "exact")  # else placeholders


def test_token_counting_handler_takes_the_tokenizer(vocabulary: str, emu: EmulatorServer) -> None:
    handler = TokenCountingHandler(tokenizer=make(emu).tokenizer)
    llm = make(emu, callback_manager=CallbackManager([handler]))
    messages = [user("count these tokens")]
    usage = llm.chat(messages).raw["usage"]
    assert handler.prompt_llm_token_count == usage["prompt_tokens"] == llm.count_tokens(messages)
    assert handler.completion_llm_token_count == usage["completion_tokens"] > 0
    unbilled = make(emu, stream_usage=False, callback_manager=CallbackManager([handler]))
    handler.reset_counts()
    last = list(unbilled.stream_chat(messages))[-1]  # no usage: LlamaIndex counts with the tokenizer
    assert handler.completion_llm_token_count == token_counter("deepseek-chat").count_text(str(last.message)) > 0


def test_chat_memory_keeps_the_latest_turns_within_the_token_limit(vocabulary: str, emu: EmulatorServer) -> None:
    tokenizer = make(emu, model="qwen3.7-max").tokenizer
    memory = ChatMemoryBuffer.from_defaults(token_limit=60, tokenizer_fn=tokenizer)
    for i in range(15):
        memory.put(user(f"Question {i}: what is {i} times {i}?"))
        memory.put(ChatMessage(role=MessageRole.ASSISTANT, content=f"{i} times {i} is {i * i}."))
    kept = memory.get()
    assert 1 < len(kept) < 30 and kept[-1].content == "14 times 14 is 196." and kept[0].role == MessageRole.USER
    assert sum(len(tokenizer(str(m.content))) for m in kept) <= 60
