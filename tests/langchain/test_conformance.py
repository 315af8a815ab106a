"""ChatA2Agent conformance: strict schemas, v0/v1 block indices in streams, profiles per wire format,
reasoning pass-back scope and tool error flags. Against the emulator, in both wire formats."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from a2agent import InvalidInputError
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent
from tests.conftest import last_request_body
from tests.langchain.common import call
from tests.models import Person
from tests.strict_check import accepts_null, strict_violations


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b




def make(emu: EmulatorServer, **kwargs: Any) -> ChatA2Agent:
    kwargs.setdefault("model", "qwen3.6-plus")
    return ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, **kwargs)




# -- 5. strict schemas ------------------------------------------------------------------------------

def _sent_schema(emu: EmulatorServer, where: str) -> dict[str, Any]:
    body = last_request_body(emu)
    if where == "tool":
        function = body["tools"][0]["function"]
        if not emu.requests[-1]["path"].endswith("/messages"):  # the Messages format has no strict flag
            assert function["strict"] is True
        return function["parameters"]  # type: ignore[no-any-return]
    spec = body["response_format"]["json_schema"]
    assert spec["strict"] is True
    return spec["schema"]  # type: ignore[no-any-return]


STRICT = [("bind_tools", "tool"), ("function_calling", "tool"), ("json_schema", "response_format")]


@pytest.mark.parametrize(("how", "where"), STRICT, ids=[s[0] for s in STRICT])
def test_strict_schemas_are_strict_valid(emu: EmulatorServer, how: str, where: str, fmt: str) -> None:
    if fmt == "anthropic" and how == "json_schema":
        pytest.skip("the Messages format has no response_format")
    llm = make(emu, api_format=fmt)
    if how == "bind_tools":
        llm.bind_tools([Person], strict=True).invoke("Ann is 41")
    else:
        out = llm.with_structured_output(Person, method=how, strict=True).invoke("Ann is 41")  # type: ignore[arg-type]
        assert isinstance(out, Person) and out.age == 41
    schema = _sent_schema(emu, where)
    assert strict_violations(schema) == []
    assert {n for n, p in schema["properties"].items() if accepts_null(p)} == {"nickname", "homes"}


# -- 6. content-block indices in streams ------------------------------------------------------------

SCRIPT = {"reasoning": "Two sums needed.", "content": "Adding now.",
          "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "add", "arguments": {"a": 3, "b": 4}},
                         {"name": "add", "arguments": {"a": 5, "b": 6}}]}


def _without_index(blocks: list[Any]) -> list[Any]:
    return [{k: v for k, v in b.items() if k != "index"} for b in blocks]


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("output_version", ["v0", "v1"])
async def test_stream_block_indices_match_invoke(emu: EmulatorServer, fmt: str, mode: str,
                                                 output_version: str) -> None:
    llm = make(emu, api_format=fmt, model="kimi-k2.5", output_version=output_version).bind_tools([add])
    emu.script(SCRIPT)
    whole = llm.invoke("add some numbers")
    emu.script(SCRIPT)
    streamed = await call(llm, mode, "add some numbers")
    expected_types = ["reasoning", "text", "tool_call", "tool_call", "tool_call"]
    assert [b["type"] for b in whole.content_blocks] == expected_types
    assert [b["type"] for b in streamed.content_blocks] == expected_types
    assert _without_index(streamed.content_blocks) == _without_index(whole.content_blocks)
    assert streamed.tool_calls == whole.tool_calls
    assert streamed.additional_kwargs["reasoning_content"] == "Two sums needed."
    if output_version == "v1":
        assert streamed.content == streamed.content_blocks
        indices = [b.get("index") for b in streamed.content if b["type"] != "tool_call"]
        assert indices == [0, 1]  # tool calls lose their index once assembled, as in langchain-core
    else:
        assert streamed.content == "Adding now."
    # every tool call keeps its own chunk index, distinct from the reasoning and text blocks
    assert [c["index"] for c in streamed.tool_call_chunks] == [2, 3, 4]


async def test_tool_call_alone_in_v1_stream(emu: EmulatorServer, fmt: str) -> None:
    emu.script({"reasoning": "Just add.", "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]})
    msg = await call(make(emu, api_format=fmt, model="kimi-k2.5", output_version="v1").bind_tools([add]),
                     "stream", "add")
    assert [b["type"] for b in msg.content_blocks] == ["reasoning", "tool_call"]
    assert msg.content_blocks[1]["args"] == {"a": 1, "b": 2}


# -- 7. profile per wire format ---------------------------------------------------------------------

@pytest.mark.parametrize(("model", "structured"), [("qwen3.6-plus", True), ("deepseek-chat", False)])
def test_profile_describes_format_and_model(fmt: str, model: str, structured: bool) -> None:
    profile = ChatA2Agent(api_key="sk-test-0123456789abcdef", model=model, api_format=fmt).profile
    assert profile is not None
    assert profile["structured_output"] is (structured and fmt == "openai")
    assert profile["tool_calling"] is True


@pytest.mark.parametrize("model", ["qwen3.6-plus", "glm-5"])
def test_create_agent_with_response_format(emu: EmulatorServer, fmt: str, model: str) -> None:
    from langchain.agents import create_agent

    agent = create_agent(make(emu, api_format=fmt, model=model), tools=[], response_format=Person)
    result = agent.invoke({"messages": [("user", "Ann is 41")]})
    assert isinstance(result["structured_response"], Person) and result["structured_response"].age == 41
    body = last_request_body(emu)
    native = fmt == "openai" and model == "qwen3.6-plus"
    assert ("response_format" in body) is native
    assert any(t["function"]["name"] == "Person" for t in body.get("tools", [])) is not native


# -- 9. reasoning only in the current tool loop -----------------------------------------------------

def _ai(tag: str, call_id: str) -> AIMessage:
    return AIMessage("", additional_kwargs={"reasoning_content": f"thought {tag}", "reasoning_signature": "x"},
                     tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": call_id}])


HISTORY = [HumanMessage("Please add 1 and 2"), _ai("old", "c1"), ToolMessage("3", tool_call_id="c1"),
           AIMessage("It is 3.", additional_kwargs={"reasoning_content": "thought answer"}),
           HumanMessage("Please add 1 and 2 again"), _ai("new", "c2"), ToolMessage("3", tool_call_id="c2")]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_reasoning_only_in_current_tool_loop(emu: EmulatorServer, fmt: str, mode: str) -> None:
    llm = make(emu, api_format=fmt, model="glm-5").bind_tools([add])
    history = [m.model_copy(deep=True) for m in HISTORY]
    if fmt == "anthropic":  # the emulator verifies signatures of the current loop: use real ones
        first = llm.invoke([HumanMessage("Please add 1 and 2 again")])
        history[5] = first.model_copy(update={"tool_calls": [{**first.tool_calls[0], "id": "c2"}]})
    await call(llm, mode, history)
    sent = last_request_body(emu)["messages"]
    kept = [m.get("reasoning_content") for m in sent if m["role"] == "assistant"]
    assert kept == [None, None, history[5].additional_kwargs["reasoning_content"]]
    if fmt == "anthropic":
        raw = emu.requests[-1]["body"]["messages"]
        thinking = [b for m in raw if m["role"] == "assistant" and isinstance(m["content"], list)
                    for b in m["content"] if b["type"] == "thinking"]
        assert len(thinking) == 1 and thinking[0]["signature"]
    assert [m.additional_kwargs.get("reasoning_content") for m in history] == [
        m.additional_kwargs.get("reasoning_content") for m in ([*HISTORY[:5], history[5], HISTORY[6]])]


# -- 10. tool errors come from ToolMessage.status ----------------------------------------------------

@pytest.mark.parametrize(
    ("content", "status", "is_error"),
    [("Error: in the text only", "success", None), ("the tool raised", "error", True), ("3", "success", None)],
    ids=["error_text_success_status", "error_status", "plain"],
)
def test_tool_error_flag_from_status(emu: EmulatorServer, fmt: str, content: str, status: str,
                                     is_error: bool | None) -> None:
    llm = make(emu, api_format=fmt, model="deepseek-chat").bind_tools([add])
    history = [HumanMessage("Please add 1 and 2"),
               AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]),
               ToolMessage(content, tool_call_id="c1", status=status)]
    llm.invoke(history)
    raw = emu.requests[-1]["body"]["messages"]
    if fmt == "anthropic":
        result = next(b for m in raw if isinstance(m["content"], list) for b in m["content"]
                      if b["type"] == "tool_result")
        assert result.get("is_error") is is_error
    else:
        assert all("is_error" not in m for m in raw)


# -- forced tool choice where thinking forbids it ---------------------------------------------------

@pytest.mark.parametrize(("thinking", "wire"), [(None, "auto"), (True, "auto"), (False, {"type": "function",
                                                                                      "function": {"name": "Person"}})],
                         ids=["kimi_default_thinking", "thinking_on", "thinking_off"])
def test_structured_output_relaxes_forced_choice_while_kimi_thinks(emu: EmulatorServer, fmt: str,
                                                                   thinking: bool | None, wire: Any) -> None:
    """Kimi answers 400 for a forced tool_choice in thinking mode (on by default on kimi-k2.5): the
    schema tool is then offered with "auto", and the model calls it."""
    llm = make(emu, api_format=fmt, model="kimi-k2.5", thinking=thinking)
    assert llm.profile is not None and llm.profile["tool_choice"] is (thinking is False)
    person = llm.with_structured_output(Person).invoke("Ann is 41, the person to extract")
    assert isinstance(person, Person) and person.age == 41
    assert last_request_body(emu)["tool_choice"] == wire
    llm.bind_tools([add], tool_choice="any").invoke("Please add 1 and 2")
    assert last_request_body(emu)["tool_choice"] == ("auto" if wire == "auto" else "required")


def test_json_mode_refuses_strict() -> None:
    llm = ChatA2Agent(api_key="sk-test-0123456789abcdef")
    with pytest.raises(InvalidInputError, match="strict does not apply to method='json_mode'"):
        llm.with_structured_output(None, method="json_mode", strict=True)


def test_ready_made_response_format_is_sent_as_is(emu: EmulatorServer) -> None:
    ready = {"type": "json_schema", "json_schema": {"name": "Person", "strict": False, "schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]}}}
    result = make(emu).with_structured_output(ready, method="json_schema").invoke("Ann is 41")
    assert emu.requests[-1]["body"]["response_format"] == ready
    assert set(result) == {"name", "age"}  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="strict=False but strict=True"):
        make(emu).with_structured_output(ready, method="json_schema", strict=True)


class Total(BaseModel):
    """The result of the calculation."""

    value: int


AGENT_CASES = [("openai", "qwen3.6-plus", "tool"), ("openai", "qwen3.6-plus", "provider"), ("openai", "glm-5", "tool"),
               ("anthropic", "qwen3.6-plus", "tool"), ("anthropic", "glm-5", "tool")]


@pytest.mark.parametrize(("api_format", "model", "strategy"), AGENT_CASES, ids=["-".join(c) for c in AGENT_CASES])
def test_create_agent_strategies_after_a_tool_step(emu: EmulatorServer, api_format: str, model: str,
                                                   strategy: str) -> None:
    """A tool step first, then the structured answer: tool_choice and response_format are honoured
    after tool results, through LangChain's tool strategy everywhere and its provider strategy
    where the format and model have response_format json_schema."""
    from langchain.agents import create_agent
    from langchain.agents.structured_output import ProviderStrategy, ToolStrategy
    from langchain_core.tools import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    response_format = ToolStrategy(Total) if strategy == "tool" else ProviderStrategy(Total)
    agent = create_agent(make(emu, api_format=api_format, model=model), tools=[add], response_format=response_format)
    result = agent.invoke({"messages": [("user", "Please add 3 and 4")]})
    tool_results = [m for m in result["messages"] if m.type == "tool" and m.name == "add"]
    assert [m.content for m in tool_results] == ["7"]  # the tool ran before the structured answer
    assert result["structured_response"] == Total(value=7)
    body = last_request_body(emu)
    assert ("response_format" in body) is (strategy == "provider")


def test_provider_strategy_in_the_messages_format_is_refused_locally(emu: EmulatorServer) -> None:
    from langchain.agents import create_agent
    from langchain.agents.structured_output import ProviderStrategy

    agent = create_agent(make(emu, api_format="anthropic"), tools=[], response_format=ProviderStrategy(Total))
    with pytest.raises(InvalidInputError, match="response_format"):
        agent.invoke({"messages": [("user", "Please add 3 and 4")]})
