"""A2AgentLLM across the settings matrix, against the one session emulator.

Agents (FunctionAgent, an AgentWorkflow handing off between two agents, ReActAgent) x wire format
x reasoning (a reasoning model thinking, or a plain one) x streaming, each through a two-step tool
task whose numbers really flow (add 3 and 4 = 7, then multiply by 5 = 35); and structured output
(``structured_predict`` and friends, ``as_structured_llm``) in both output methods and formats.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentStream, AgentWorkflow, FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from a2agent import InvalidInputError, get_model_profile
from a2agent.emulator import EmulatorServer
from a2agent.emulator._model import Planner
from llama_index_a2agent import A2AgentLLM
from tests.conftest import last_request_body


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# A reasoning model with thinking on (its tool loops need reasoning_content sent back), or a plain one.
REASONING = {"thinking": {"model": "glm-5", "thinking": True}, "plain": {"model": "deepseek-chat"}}
TASK = "Use add on 3 and 4, then multiply the result by 5"
HANDOFF_TASK = "Use add on 3 and 4, then handoff to 'multiplier', then multiply the result by 5"


def make(emu: EmulatorServer, **kwargs: Any) -> A2AgentLLM:
    return A2AgentLLM(api_key=emu.api_key, api_base=emu.base_url, **kwargs)


def build(kind: str, llm: A2AgentLLM, streaming: bool) -> tuple[Any, str, list[str]]:
    """The agent (or workflow), its task, and the tools it must call in order."""
    if kind == "function":
        return FunctionAgent(tools=[add, multiply], llm=llm, streaming=streaming), TASK, ["add", "multiply"]
    if kind == "react":
        return ReActAgent(tools=[add, multiply], llm=llm, streaming=streaming), TASK, ["add", "multiply"]
    adder = FunctionAgent(name="adder", description="Adds numbers.", tools=[add], llm=llm, streaming=streaming,
                          can_handoff_to=["multiplier"])
    multiplier = FunctionAgent(name="multiplier", description="Multiplies numbers.", tools=[multiply], llm=llm,
                               streaming=streaming, can_handoff_to=[])
    workflow = AgentWorkflow(agents=[adder, multiplier], root_agent="adder")
    return workflow, HANDOFF_TASK, ["add", "handoff", "multiply"]


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "no_stream"])
@pytest.mark.parametrize("reasoning", list(REASONING))
@pytest.mark.parametrize("kind", ["function", "handoff", "react"])
async def test_agent_two_step_task(emu: EmulatorServer, fmt: str, kind: str, reasoning: str,
                                   streaming: bool) -> None:
    llm = make(emu, api_format=fmt, **REASONING[reasoning])
    agent, task, expected_tools = build(kind, llm, streaming)
    handler = agent.run(user_msg=task)
    deltas: list[str] = []
    thinking: list[str] = []
    results: list[tuple[str, str]] = []
    agents: list[str] = []
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            deltas.append(event.delta)
            thinking.append(event.thinking_delta or "")
            agents.append(event.current_agent_name)
        elif isinstance(event, ToolCallResult):
            results.append((event.tool_name, event.tool_output.content))
    result = await handler
    assert [name for name, _ in results] == expected_tools
    values = dict(results)
    assert (values["add"], values["multiply"]) == ("7", "35")
    assert str(result).endswith("The final answer is 35.")
    if streaming:
        assert "".join(deltas).endswith("The final answer is 35.")
        # a reasoning model's thought streams alongside (ReAct reads only the text protocol)
        assert any(thinking) is (reasoning == "thinking")
        if kind == "handoff":
            assert {"adder", "multiplier"} <= set(agents)
    else:
        assert deltas == []
    if reasoning == "thinking" and kind != "react":
        # the last request carried the tool loop's reasoning back (the emulator refuses it otherwise)
        sent = [m for m in last_request_body(emu)["messages"] if m["role"] == "assistant" and m.get("tool_calls")]
        assert sent and all(m.get("reasoning_content") for m in sent)


# -- structured output ------------------------------------------------------------------------------

class Person(BaseModel):
    """A person."""

    name: str
    age: int


PROMPT = PromptTemplate("Extract the person: {text}")
METHODS = ["function_calling", "json_schema"]


def _check_wire(emu: EmulatorServer, method: str) -> None:
    body = last_request_body(emu)
    if method == "json_schema":
        assert body["response_format"]["json_schema"]["name"] == "Person" and "tools" not in body
    else:
        assert body["tool_choice"] == "required" and [t["function"]["name"] for t in body["tools"]] == ["Person"]


@pytest.mark.parametrize("reasoning", [False, True], ids=["plain", "thinking"])
@pytest.mark.parametrize("method", METHODS)
async def test_structured_predict_matrix(emu: EmulatorServer, fmt: str, method: str, reasoning: bool) -> None:
    # qwen documents response_format json_schema; thinking is optional on it
    llm = make(emu, api_format=fmt, model="qwen3.7-plus", structured_output_method=method, thinking=reasoning)
    if fmt == "anthropic" and method == "json_schema":
        # the Messages format has no response_format: refused before any request, naming it
        sent = len(emu.requests)
        with pytest.raises(InvalidInputError, match="response_format"):
            llm.structured_predict(Person, PROMPT, text="Ann is 41")
        with pytest.raises(InvalidInputError, match="response_format"):
            await llm.astructured_predict(Person, PROMPT, text="Ann is 41")
        with pytest.raises(InvalidInputError, match="response_format"):
            list(llm.stream_structured_predict(Person, PROMPT, text="Ann is 41"))
        with pytest.raises(InvalidInputError, match="response_format"):
            llm.as_structured_llm(Person).chat([ChatMessage(role="user", content="Ann is 41")])
        assert len(emu.requests) == sent
        return
    person = llm.structured_predict(Person, PROMPT, text="Ann is 41")
    assert isinstance(person, Person) and person.age == 41
    _check_wire(emu, method)
    assert (await llm.astructured_predict(Person, PROMPT, text="Bob is 52")).age == 52
    streamed = list(llm.stream_structured_predict(Person, PROMPT, text="Cy is 63"))
    assert isinstance(streamed[-1], Person) and streamed[-1].age == 63
    _check_wire(emu, method)
    response = llm.as_structured_llm(Person).chat([ChatMessage(role="user", content="Eve is 35")])
    assert isinstance(response.raw, Person) and response.raw.age == 35
    assert response.message.content is not None and '"age":35' in response.message.content.replace(" ", "")
    _check_wire(emu, method)
    if reasoning:
        assert last_request_body(emu)["thinking"] == {"type": "enabled"}


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_streamed_structured_output_forces_the_schema_tool(emu: EmulatorServer, fmt: str, mode: str) -> None:
    """LlamaIndex's streaming program drops the caller's tool_choice and sends its own (none: auto),
    so a model free to answer in prose did so; the stream must force the tool as the call does."""
    llm = make(emu, api_format=fmt, model="deepseek-chat")
    prompt = PromptTemplate("Extract: {text}")  # names neither the schema nor a tool
    if mode == "stream":
        streamed = list(llm.stream_structured_predict(Person, prompt, text="Ann is 41"))
    else:
        streamed = [p async for p in await llm.astream_structured_predict(Person, prompt, text="Ann is 41")]
    assert isinstance(streamed[-1], Person) and streamed[-1].age == 41
    assert last_request_body(emu)["tool_choice"] == "required"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_text_program_mode_sends_no_tool_choice(emu: EmulatorServer, fmt: str, mode: str) -> None:
    """pydantic_program_mode="llm" parses JSON from a plain answer: no tools are bound, so no
    tool_choice may be sent (it was "required": a 400 on every backend)."""
    llm = make(emu, api_format=fmt, model="deepseek-chat", pydantic_program_mode=PydanticProgramMode.LLM)
    emu.script({"content": '{"name": "Ann", "age": 41}'})
    prompt = PromptTemplate("Extract as JSON: {text}")
    if mode == "sync":
        person = llm.structured_predict(Person, prompt, text="Ann is 41")
    else:
        person = await llm.astructured_predict(Person, prompt, text="Ann is 41")
    assert person == Person(name="Ann", age=41)
    body = last_request_body(emu)
    assert "tool_choice" not in body and "tools" not in body


# -- the emulator's plan across a handoff (what the handoff rows above exposed) ---------------------

def _call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name,
                                                                            "arguments": json.dumps(args)}}]}


def test_emulator_plan_continues_after_a_handoff() -> None:
    """The agent that takes over offers only its own tools; the steps already taken (by tools it does
    not have) still count, and the last numeric result feeds its step, so 7 * 5, not 3 * 4."""
    multiply_tool = {"type": "function", "function": {"name": "multiply", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"]}}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": HANDOFF_TASK},
        _call("c1", "add", {"a": 3, "b": 4}), {"role": "tool", "tool_call_id": "c1", "content": "7"},
        _call("c2", "handoff", {"to_agent": "multiplier", "reason": "multiplier"}),
        {"role": "tool", "tool_call_id": "c2", "content": "Agent multiplier is now handling the request."}]
    request = {"model": "deepseek-chat", "messages": messages, "tools": [multiply_tool]}
    reply = Planner(request, get_model_profile("deepseek-chat")).reply()
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("multiply", {"a": 7, "b": 5})]
    messages += [_call("c3", "multiply", {"a": 7, "b": 5}), {"role": "tool", "tool_call_id": "c3", "content": "35"}]
    final = Planner(request, get_model_profile("deepseek-chat")).reply()
    assert not final.tool_calls and final.content is not None and final.content.endswith("The final answer is 35.")


@pytest.mark.parametrize(("thinking", "wire"), [(None, "auto"), (False, "required")],
                         ids=["kimi_default_thinking", "thinking_off"])
async def test_structured_output_relaxes_forced_choice_while_kimi_thinks(emu: EmulatorServer, fmt: str,
                                                                         thinking: bool | None, wire: str) -> None:
    """Kimi answers 400 for a forced tool_choice in thinking mode: "auto" is sent instead."""
    llm = make(emu, api_format=fmt, model="kimi-k2.5", thinking=thinking)
    assert llm.structured_predict(Person, PROMPT, text="Ann is 41").age == 41
    assert last_request_body(emu)["tool_choice"] == wire
    streamed = [p async for p in await llm.astream_structured_predict(Person, PROMPT, text="Bob is 52")]
    assert isinstance(streamed[-1], Person) and streamed[-1].age == 52
    assert last_request_body(emu)["tool_choice"] == wire
