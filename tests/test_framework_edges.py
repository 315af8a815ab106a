"""The README's "Where a framework expects a model" section, checked against the emulator.

Its two code blocks run here (in-process, with their output and wire traffic asserted), and each
claim it makes about the frameworks' generic OpenAI classes (``init_chat_model`` / ``ChatOpenAI``,
``OpenAILike``) is shown to hold with the versions installed; when an upgrade changes one, this
fails and the README gets updated.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from langchain.agents import create_agent
from langchain.chat_models import init_chat_model
from langchain_core.tools import tool
from llama_index.core import Settings
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai_like import OpenAILike

from a2agent.emulator import EmulatorServer
from llama_index_a2agent import A2AgentLLM
from tests.faults.server import FaultServer, sse_reply
from tests.test_readme import BLOCKS

THINKING_400 = "in thinking mode an assistant message with tool_calls must include its reasoning_content"
LANGCHAIN_ANSWER = "Tool results: add -> 5. The final answer is 5."


def readme_block(marker: str) -> str:
    (code,) = [code for lang, code in BLOCKS if lang == "python" and marker in code]
    return code


@pytest.fixture
def emu(a2agent_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    """The emulator, exported as the README's blocks expect it (A2AGENT_API_KEY / A2AGENT_BASE_URL)."""
    monkeypatch.setenv("A2AGENT_API_KEY", a2agent_emulator.api_key)
    monkeypatch.setenv("A2AGENT_BASE_URL", a2agent_emulator.base_url)
    return a2agent_emulator


def chat_bodies(emu: EmulatorServer) -> list[dict[str, Any]]:
    return [r["body"] for r in emu.requests if r["path"].endswith("/chat/completions")]


def reasoning_sent_back(body: dict[str, Any]) -> bool:
    return any(m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls"))


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# -- LangChain ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", [{"model": "a2agent:glm-5"}, {"model": "glm-5", "model_provider": "a2agent"}],
                         ids=["prefix", "model_provider"])
def test_init_chat_model_has_no_a2agent_provider(spelling: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"Unable to infer model provider|Unsupported provider='a2agent'"):
        init_chat_model(**spelling)


def test_readme_create_agent_and_langgraph_take_the_instance(emu: EmulatorServer,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    exec(readme_block("create_agent(model=llm"), {})
    assert capsys.readouterr().out.splitlines() == [LANGCHAIN_ANSWER, LANGCHAIN_ANSWER]
    bodies = chat_bodies(emu)
    assert len(bodies) == 4  # each loop: the tool call, then the answer after the tool result
    assert [reasoning_sent_back(body) for body in bodies] == [False, True, False, True]


def chat_openai(emu: EmulatorServer, model: str) -> Any:
    return init_chat_model(f"openai:{model}", base_url=emu.base_url, api_key=emu.api_key, max_retries=0)


def test_chat_openai_drops_reasoning(emu: EmulatorServer) -> None:
    reply = chat_openai(emu, "glm-5").invoke("Why is the sky blue?")
    assert type(reply).__name__ == "AIMessage" and reply.content
    assert "reasoning_content" not in reply.additional_kwargs
    assert [block["type"] for block in reply.content_blocks] == ["text"]


@pytest.mark.parametrize(("model", "refused"), [("glm-5", True), ("deepseek-chat", False)])
def test_chat_openai_thinking_tool_loop_is_refused(emu: EmulatorServer, model: str, refused: bool) -> None:
    agent = create_agent(model=chat_openai(emu, model), tools=[add])
    question = {"messages": [("user", "Please add 2 and 3")]}
    if not refused:
        assert agent.invoke(question)["messages"][-1].content == LANGCHAIN_ANSWER
        return
    with pytest.raises(openai.BadRequestError) as caught:
        agent.invoke(question)
    assert caught.value.status_code == 400 and THINKING_400 in str(caught.value)
    assert [reasoning_sent_back(body) for body in chat_bodies(emu)] == [False, False]


def test_chat_openai_forced_tool_choice_on_kimi(emu: EmulatorServer) -> None:
    with pytest.raises(openai.BadRequestError, match="tool_choice 'required' is incompatible with thinking enabled"):
        chat_openai(emu, "kimi-k2.5").bind_tools([add], tool_choice="any").invoke("Please add 2 and 3")
    assert chat_openai(emu, "glm-5").profile is None


# -- LlamaIndex ---------------------------------------------------------------------------------------
def test_readme_settings_llm_drives_an_agent(emu: EmulatorServer, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Settings, "_llm", None)  # the block sets the global; put it back after
    exec(readme_block("Settings.llm = A2AgentLLM"), {})
    assert capsys.readouterr().out.splitlines() == ["Tool results: multiply -> 42. The final answer is 42."]
    assert isinstance(Settings.llm, A2AgentLLM)
    assert [reasoning_sent_back(body) for body in chat_bodies(emu)] == [False, True]


def openai_like(base_url: str, api_key: str) -> OpenAILike:
    return OpenAILike(model="glm-5", api_base=base_url, api_key=api_key, is_chat_model=True,
                      is_function_calling_model=True, max_retries=0)


def test_openai_like_context_window(emu: EmulatorServer) -> None:
    generic, ours = openai_like(emu.base_url, emu.api_key), A2AgentLLM(model="glm-5")
    assert (generic.metadata.context_window, ours.metadata.context_window) == (3900, 204800)
    memories = [ChatMemoryBuffer.from_defaults(llm=llm).token_limit for llm in (generic, ours)]
    assert memories == [2925, 153600]


def test_openai_like_thinking_agent_loop_is_refused(emu: EmulatorServer) -> None:
    llm = openai_like(emu.base_url, emu.api_key)
    reply = llm.chat([ChatMessage(role="user", content="Why is the sky blue?")])
    assert [type(block).__name__ for block in reply.message.blocks] == ["ThinkingBlock", "TextBlock"]
    with pytest.raises(openai.BadRequestError, match=THINKING_400):
        asyncio.run(_run(FunctionAgent(tools=[multiply], llm=llm), "Please multiply 6 and 7", llm))


async def _run(agent: FunctionAgent, question: str, llm: OpenAILike) -> Any:
    try:
        return await agent.run(question)
    finally:
        # openai's async client, left open, schedules its own aclose() on whatever loop is running
        # when it is collected, a later test's: that task then fails on this closed loop's sockets
        if llm._aclient is not None:
            await llm._aclient.close()


def _event(delta: dict[str, Any], finish: str | None = None) -> str:
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "glm-5",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(chunk)}\n\n"


def _call(index: int, name: str, arguments: str) -> dict[str, Any]:
    return {"index": index, "id": f"call_{index}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def _fragment(index: int, arguments: str) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": arguments}}


# Two parallel tool calls, add(4, 5) and multiply(4, 5), streamed two valid ways.
STREAMS = {
    "one chunk": [_event({"role": "assistant", "tool_calls": [_call(0, "add", '{"a": 4, "b": 5}'),
                                                               _call(1, "multiply", '{"a": 4, "b": 5}')]})],
    "interleaved": [_event({"role": "assistant", "tool_calls": [_call(0, "add", '{"a": 4, ')]}),
                    _event({"tool_calls": [_call(1, "multiply", '{"a": 4, ')]}),
                    _event({"tool_calls": [_fragment(0, '"b": 5}')]}),
                    _event({"tool_calls": [_fragment(1, '"b": 5}')]})],
}
OPENAI_LIKE_GETS = {
    "one chunk": [("add", {"a": 4, "b": 5})],
    "interleaved": [("add", {"a": 4}), ("multiply", {"a": 4}), ("", {}), ("", {})],
}


@pytest.mark.parametrize("layout", list(STREAMS))
def test_openai_like_streamed_parallel_tool_calls(layout: str) -> None:
    tools = [FunctionTool.from_defaults(add.func), FunctionTool.from_defaults(multiply)]
    server = FaultServer()
    key = "sk-edges-test-0123456789"
    try:
        got = {}
        for name, llm in (("OpenAILike", openai_like(server.base_url, key)),
                          ("A2AgentLLM", A2AgentLLM(model="glm-5", api_base=server.base_url, api_key=key))):
            server.script(sse_reply(*STREAMS[layout], _event({}, "tool_calls"), "data: [DONE]\n\n"))
            *_, last = llm.stream_chat_with_tools(tools, user_msg="add and multiply 4 and 5 in parallel",
                                                  allow_parallel_tool_calls=True)
            calls = llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
            got[name] = [(call.tool_name, call.tool_kwargs) for call in calls]
    finally:
        server.stop()
    assert got == {"OpenAILike": OPENAI_LIKE_GETS[layout],
                   "A2AgentLLM": [("add", {"a": 4, "b": 5}), ("multiply", {"a": 4, "b": 5})]}
