"""A2AgentLLM conformance: strict schemas, callbacks fired once per entry point, reasoning pass-back
scope, tool error flags and no empty text blocks. Against the emulator, in both wire formats."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, TextBlock, ThinkingBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from a2agent.emulator import EmulatorServer
from llama_index_a2agent import A2AgentLLM
from tests.conftest import last_request_body
from tests.models import Person
from tests.strict_check import accepts_null, strict_violations


def register(**person: Any) -> str:
    """Register a person."""
    return str(person)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


REGISTER, ADD = FunctionTool.from_defaults(register, fn_schema=Person), FunctionTool.from_defaults(add)


def make(emu: EmulatorServer, **kwargs: Any) -> A2AgentLLM:
    kwargs.setdefault("model", "qwen3.6-plus")
    return A2AgentLLM(api_key=emu.api_key, api_base=emu.base_url, **kwargs)


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


# -- 5. strict schemas ------------------------------------------------------------------------------

def test_strict_tools_are_strict_valid(emu: EmulatorServer, fmt: str) -> None:
    make(emu, api_format=fmt, strict=True).chat_with_tools([REGISTER], user_msg="Register Ann")
    function = last_request_body(emu)["tools"][0]["function"]
    if fmt == "openai":  # the Messages format has no strict flag
        assert function["strict"] is True
    assert strict_violations(function["parameters"]) == []
    assert {n for n, p in function["parameters"]["properties"].items() if accepts_null(p)} == {"nickname", "homes"}


@pytest.mark.parametrize("strict", [True, False])
def test_json_schema_structured_output_strict(emu: EmulatorServer, strict: bool) -> None:
    llm = make(emu, strict=strict, structured_output_method="json_schema")
    person = llm.structured_predict(Person, PromptTemplate("Extract: {text}"), text="Ann is 41")
    assert person.age == 41
    spec = last_request_body(emu)["response_format"]["json_schema"]
    assert spec["strict"] is strict
    assert (strict_violations(spec["schema"]) == []) is strict


# -- 8. one set of callbacks per call ---------------------------------------------------------------

class _Events(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Events"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


async def _run(llm: A2AgentLLM, entry: str) -> Any:
    """One call through ``entry``; returns the raw response that carries the usage."""
    chat = [user("count these tokens")]
    if entry == "chat":
        return llm.chat(chat).raw
    if entry == "achat":
        return (await llm.achat(chat)).raw
    if entry == "stream_chat":
        return list(llm.stream_chat(chat))[-1].raw
    if entry == "astream_chat":
        return [r async for r in await llm.astream_chat(chat)][-1].raw
    if entry == "complete":
        return llm.complete("count these tokens").raw
    if entry == "acomplete":
        return (await llm.acomplete("count these tokens")).raw
    if entry == "stream_complete":
        return list(llm.stream_complete("count these tokens"))[-1].raw
    return [r async for r in await llm.astream_complete("count these tokens")][-1].raw


ENTRIES = ["chat", "achat", "stream_chat", "astream_chat", "complete", "acomplete", "stream_complete",
           "astream_complete"]


@pytest.mark.parametrize("entry", ENTRIES)
async def test_each_entry_point_fires_its_callbacks_once(emu: EmulatorServer, fmt: str, entry: str) -> None:
    counter = TokenCountingHandler()
    events = _Events(events=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(events)
    try:
        raw = await _run(make(emu, api_format=fmt, callback_manager=CallbackManager([counter])), entry)
    finally:
        dispatcher.event_handlers.remove(events)
    usage = raw["usage"]
    assert len(counter.llm_token_counts) == 1
    assert counter.prompt_llm_token_count == usage["prompt_tokens"] > 0
    assert counter.completion_llm_token_count == usage["completion_tokens"] > 0
    kind = "Completion" if "complete" in entry else "Chat"
    names = [type(e).__name__ for e in events.events if type(e).__name__.startswith("LLM")]
    assert [n for n in names if n.endswith(("StartEvent", "EndEvent"))] == [f"LLM{kind}StartEvent",
                                                                           f"LLM{kind}EndEvent"]
    assert all(n.startswith(f"LLM{kind}") for n in names)


# -- 9. reasoning only in the current tool loop -----------------------------------------------------

@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_reasoning_only_in_current_tool_loop(emu: EmulatorServer, fmt: str, mode: str) -> None:
    llm = make(emu, api_format=fmt, model="glm-5")
    history = [user("Please add 1 and 2")]
    for turn in range(2):
        first = llm.chat_with_tools([ADD], chat_history=history) if mode == "chat" else list(
            llm.stream_chat_with_tools([ADD], chat_history=history))[-1]
        call = llm.get_tool_calls_from_response(first)[0]
        history += [first.message, ChatMessage(role="tool", content="3",
                                               additional_kwargs={"tool_call_id": call.tool_id})]
        final = llm.chat_with_tools([ADD], chat_history=history)
        history += [final.message, user("Please add 1 and 2 again")] if turn == 0 else []
    sent = last_request_body(emu)["messages"]
    assistants = [m for m in sent if m["role"] == "assistant"]
    assert [bool(m.get("reasoning_content")) for m in assistants] == [False, False, True]
    assert isinstance(history[1].blocks[0], ThinkingBlock)  # the caller's history keeps its reasoning


# -- 10. tool errors come from the tool output's is_error ------------------------------------------

@pytest.mark.parametrize(
    ("content", "kwargs", "is_error"),
    [("Error: in the text only", {}, None), ("the tool raised", {"is_error": True}, True)],
    ids=["error_text_no_flag", "is_error_flag"],
)
def test_tool_error_flag(emu: EmulatorServer, fmt: str, content: str, kwargs: dict[str, Any],
                         is_error: bool | None) -> None:
    history = [user("Please add 1 and 2"),
               ChatMessage(role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="add",
                                                                   tool_kwargs={"a": 1, "b": 2})]),
               ChatMessage(role="tool", content=content, additional_kwargs={"tool_call_id": "c1", **kwargs})]
    make(emu, api_format=fmt, model="deepseek-chat").chat_with_tools([ADD], chat_history=history)
    raw = emu.requests[-1]["body"]["messages"]
    if fmt == "anthropic":
        result = next(b for m in raw if isinstance(m["content"], list) for b in m["content"]
                      if b["type"] == "tool_result")
        assert result.get("is_error") is is_error
    else:
        assert all("is_error" not in m for m in raw)


# -- 11. no empty text blocks -----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["chat", "achat", "stream", "astream"])
async def test_tool_only_reply_has_no_text_block(emu: EmulatorServer, fmt: str, mode: str) -> None:
    llm = make(emu, api_format=fmt, model="deepseek-chat")
    if mode == "chat":
        responses = [llm.chat_with_tools([ADD], user_msg="Please add 1 and 2")]
    elif mode == "achat":
        responses = [await llm.achat_with_tools([ADD], user_msg="Please add 1 and 2")]
    elif mode == "stream":
        responses = list(llm.stream_chat_with_tools([ADD], user_msg="Please add 1 and 2"))
    else:
        responses = [r async for r in await llm.astream_chat_with_tools([ADD], user_msg="Please add 1 and 2")]
    for response in responses:
        assert not any(isinstance(b, TextBlock) and not b.text for b in response.message.blocks)
    final = responses[-1].message
    assert final.content is None and [type(b) for b in final.blocks] == [ToolCallBlock]


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
async def test_structured_predict_keeps_spans_and_events(emu: EmulatorServer, method: str) -> None:
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.llm import (
        LLMStructuredPredictEndEvent,
        LLMStructuredPredictStartEvent,
    )
    from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
    from llama_index.core.prompts import PromptTemplate

    class Person(BaseModel):
        name: str
        age: int

    seen: list[str] = []

    class Handler(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, LLMStructuredPredictStartEvent | LLMStructuredPredictEndEvent):
                seen.append(type(event).__name__)

    root = get_dispatcher()
    handler, spans = Handler(), SimpleSpanHandler()
    root.add_event_handler(handler)
    root.add_span_handler(spans)
    try:
        llm = A2AgentLLM(model="qwen3.6-plus", api_key=emu.api_key, api_base=emu.base_url,
                         structured_output_method=method)
        prompt = PromptTemplate("Extract the person: {text}")
        llm.structured_predict(Person, prompt, text="Ann is 41")
        await llm.astructured_predict(Person, prompt, text="Ann is 41")
    finally:
        root.event_handlers.remove(handler)
        root.span_handlers.remove(spans)
    assert seen == ["LLMStructuredPredictStartEvent", "LLMStructuredPredictEndEvent"] * 2
    names = [s.id_.split("-")[0] for s in spans.completed_spans]
    assert "A2AgentLLM.structured_predict" in names and "A2AgentLLM.astructured_predict" in names
