"""A2AgentLLM against the emulator on loopback."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentStream, AgentWorkflow, FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, ThinkingBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from a2agent import APITimeoutError, AuthenticationError, InvalidInputError
from a2agent.emulator import EmulatorServer
from llama_index_a2agent import A2AgentLLM
from tests.conftest import emulator_greeting, last_request_body


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


ADD, MUL = FunctionTool.from_defaults(add), FunctionTool.from_defaults(multiply)


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def make(emu: EmulatorServer, **kwargs: Any) -> A2AgentLLM:
    kwargs.setdefault("model", "deepseek-chat")
    return A2AgentLLM(api_key=emu.api_key, api_base=emu.base_url, **kwargs)


last_body = last_request_body


def msgs(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


async def run_chat(llm: A2AgentLLM, mode: str, messages: list[ChatMessage], **kw: Any) -> Any:
    """chat / achat / stream_chat / astream_chat; streams return (last response, all responses)."""
    if mode == "chat":
        return llm.chat(messages, **kw), []
    if mode == "achat":
        return await llm.achat(messages, **kw), []
    if mode == "stream":
        responses = list(llm.stream_chat(messages, **kw))
    else:
        responses = [r async for r in await llm.astream_chat(messages, **kw)]
    return responses[-1], responses


MODES = ["chat", "achat", "stream", "astream"]


@pytest.mark.parametrize("mode", MODES)
async def test_chat_reasoning_and_usage(emu: EmulatorServer, mode: str, fmt: str) -> None:
    last, responses = await run_chat(make(emu, api_format=fmt, model="glm-5"), mode, msgs("hi"))
    assert last.message.content == emulator_greeting("glm-5")
    assert isinstance(last.message.blocks[0], ThinkingBlock)
    assert last.message.blocks[0].content.startswith("The user is greeting me")
    assert last.additional_kwargs["prompt_tokens"] > 0
    if fmt == "openai":  # Anthropic usage folds thinking into output_tokens, with no separate count
        assert last.additional_kwargs["reasoning_tokens"] > 0
    if responses:
        assert "".join(r.delta or "" for r in responses) == last.message.content
        thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
        assert thinking == last.message.blocks[0].content


async def test_complete_variants(emu: EmulatorServer) -> None:
    llm = make(emu)
    assert llm.complete("one").text.endswith("You said: one")
    assert (await llm.acomplete("two")).text.endswith("You said: two")
    assert "".join(r.delta or "" for r in llm.stream_complete("three")).endswith("You said: three")
    chunks = [r async for r in await llm.astream_complete("four")]
    assert chunks[-1].text.endswith("You said: four")


@pytest.mark.parametrize(
    ("model", "context_window", "num_output", "function_calling"),
    [("deepseek-chat", 131072, 8192, True), ("glm-5", 204800, 131072, True), ("kimi-k2.5", 262144, 32768, True),
     ("qwen3.5-plus", 1000000, 65536, True)],
)
def test_metadata_from_catalogue(model: str, context_window: int, num_output: int, function_calling: bool) -> None:
    meta = A2AgentLLM(model=model, api_key="sk-test-0123456789abcdef").metadata
    assert (meta.context_window, meta.num_output, meta.is_function_calling_model) == (context_window, num_output,
                                                                                       function_calling)
    assert meta.is_chat_model and meta.model_name == model


def test_metadata_overrides_and_unknown_model() -> None:
    meta = A2AgentLLM(model="glm-5", api_key="sk-test-0123456789abcdef", context_window=1000, num_output=10,
                      is_function_calling=False).metadata
    assert (meta.context_window, meta.num_output, meta.is_function_calling_model) == (1000, 10, False)
    assert A2AgentLLM(model="glm-5", api_key="sk-test-0123456789abcdef", max_tokens=77).metadata.num_output == 77
    with pytest.warns(UserWarning, match="not in the a2agent catalogue"):
        meta = A2AgentLLM(model="future-model", api_key="sk-test-0123456789abcdef").metadata
    assert meta.context_window == 32768 != 3900
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A2AgentLLM(model="future-model", api_key="sk-test-0123456789abcdef", context_window=8000)


def test_env_and_missing_key(monkeypatch: pytest.MonkeyPatch, emu: EmulatorServer) -> None:
    with pytest.raises(InvalidInputError, match="A2AGENT_API_KEY"):
        A2AgentLLM()
    monkeypatch.setenv("A2AGENT_API_KEY", emu.api_key)
    monkeypatch.setenv("A2AGENT_BASE_URL", emu.base_url)
    llm = A2AgentLLM()
    assert llm.api_base == emu.base_url and llm.complete("x").text.endswith("x")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"temperature": 0.2, "top_p": 0.3, "seed": 1, "max_tokens": 40, "stop": ["?"]},
         {"temperature": 0.2, "top_p": 0.3, "seed": 1, "max_tokens": 40, "stop": ["?"]}),
        ({"additional_kwargs": {"frequency_penalty": 0.5}}, {"frequency_penalty": 0.5}),
        ({"thinking": True, "reasoning_effort": "low"}, {"thinking": {"type": "enabled"}, "reasoning_effort": "low"}),
        ({"logprobs": True, "top_logprobs": 2}, {"logprobs": True, "top_logprobs": 2}),
    ],
    ids=["sampling", "additional_kwargs", "thinking", "logprobs"],
)
def test_parameters_reach_the_wire(emu: EmulatorServer, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    make(emu, **kwargs).chat(msgs("hi"))
    body = last_body(emu)
    assert all(body[k] == v for k, v in expected.items()), body


def test_logprobs_and_headers(emu: EmulatorServer) -> None:
    response = make(emu, logprobs=True, top_logprobs=2, default_headers={"X-App": "li"}).chat(msgs("hi"))
    assert response.logprobs and len(response.logprobs[0]) == 2
    assert emu.requests[-1]["headers"]["x-app"] == "li"


def test_stream_usage_option(emu: EmulatorServer) -> None:
    list(make(emu).stream_chat(msgs("hi")))
    assert last_body(emu)["stream_options"] == {"include_usage": True}
    list(make(emu, stream_usage=False).stream_chat(msgs("hi")))
    assert "stream_options" not in last_body(emu)


def test_retries_timeout_and_auth(emu: EmulatorServer) -> None:
    emu.script({"status": 502, "headers": {"retry-after-ms": "5"}, "times": 2})
    assert make(emu, max_retries=2).complete("x").text.endswith("x")
    emu.script({"delay": 30.0})  # held until the client hangs up: only the client's 0.2 s timeout can end it
    with pytest.raises(APITimeoutError):
        make(emu, timeout=0.2, max_retries=0).complete("x")
    with pytest.raises(AuthenticationError):
        A2AgentLLM(api_key="sk-wrong-0123456789abc", api_base=emu.base_url).complete("x")


@pytest.mark.parametrize("mode", ["sync", "async", "stream", "astream"])
async def test_chat_with_tools(emu: EmulatorServer, mode: str, fmt: str) -> None:
    llm = make(emu, api_format=fmt)
    history = [ChatMessage(role="system", content="be helpful")]
    kwargs = {"chat_history": history, "user_msg": "Please add 2 and 3"}
    if mode == "sync":
        response = llm.chat_with_tools([ADD, MUL], **kwargs)
    elif mode == "async":
        response = await llm.achat_with_tools([ADD, MUL], **kwargs)
    elif mode == "stream":
        response = list(llm.stream_chat_with_tools([ADD, MUL], **kwargs))[-1]
    else:
        response = [r async for r in await llm.astream_chat_with_tools([ADD, MUL], **kwargs)][-1]
    selections = llm.get_tool_calls_from_response(response)
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [("add", {"a": 2, "b": 3})]
    assert len(history) == 1  # the caller's history is not mutated
    body = last_body(emu)
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in body["tools"]] == ["add", "multiply"]


@pytest.mark.parametrize(
    ("kwargs", "wire"),
    [({"tool_required": True}, "required"), ({"tool_choice": "multiply"}, {"type": "function",
                                                                            "function": {"name": "multiply"}}),
     ({"tool_choice": "none"}, "none")],
    ids=["required", "by_name", "none"],
)
def test_tool_choice(emu: EmulatorServer, kwargs: dict[str, Any], wire: Any, fmt: str) -> None:
    response = make(emu, api_format=fmt).chat_with_tools([ADD, MUL], user_msg="hello there", **kwargs)
    assert last_body(emu)["tool_choice"] == wire
    calls = make(emu, api_format=fmt).get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert bool(calls) is (wire != "none")


def test_tool_choice_unknown_name() -> None:
    with pytest.raises(InvalidInputError, match="not one of the bound tools"):
        A2AgentLLM(api_key="sk-test-0123456789abcdef")._prepare_chat_with_tools([ADD], tool_choice="divide")


def test_no_tool_call_error() -> None:
    llm = A2AgentLLM(api_key="sk-test-0123456789abcdef")
    from llama_index.core.base.llms.types import ChatResponse

    response = ChatResponse(message=ChatMessage(role="assistant", content="plain"))
    with pytest.raises(InvalidInputError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_tool_calls(emu: EmulatorServer, parallel: bool, fmt: str) -> None:
    llm = make(emu, api_format=fmt)
    response = llm.chat_with_tools([ADD, MUL], user_msg="Call add and multiply in parallel on 4 and 5",
                                   allow_parallel_tool_calls=parallel)
    names = [s.tool_name for s in llm.get_tool_calls_from_response(response)]
    assert names == (["add", "multiply"] if parallel else ["add"])
    assert last_body(emu).get("parallel_tool_calls", True) is parallel


def test_streamed_parallel_tool_calls_are_merged_in_every_chunk(emu: EmulatorServer, fmt: str) -> None:
    llm = make(emu, api_format=fmt)
    responses = list(llm.stream_chat_with_tools([ADD, MUL], user_msg="Call add and multiply in parallel",
                                                 allow_parallel_tool_calls=True))
    growing = [len([b for b in r.message.blocks if isinstance(b, ToolCallBlock)]) for r in responses]
    assert growing == sorted(growing) and growing[-1] == 2
    final = responses[-1].message
    assert [json.loads(c["function"]["arguments"]) for c in final.additional_kwargs["tool_calls"]] == [
        {"a": 1, "b": 1}, {"a": 1, "b": 1}]


def test_strict_tools(emu: EmulatorServer) -> None:
    make(emu, strict=True).chat_with_tools([ADD], user_msg="add 1 and 2")
    assert last_body(emu)["tools"][0]["function"]["strict"] is True


@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_reasoning_sent_back_on_tool_turn(emu: EmulatorServer, mode: str, fmt: str) -> None:
    llm = make(emu, api_format=fmt, model="glm-5")
    history = [ChatMessage(role="user", content="Please add 2 and 3")]
    first = llm.chat_with_tools([ADD], chat_history=history) if mode == "chat" else list(
        llm.stream_chat_with_tools([ADD], chat_history=history))[-1]
    call = llm.get_tool_calls_from_response(first)[0]
    history += [first.message, ChatMessage(role="tool", content="5",
                                           additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name})]
    final = llm.chat_with_tools([ADD], chat_history=history)
    assert final.message.content.endswith("The final answer is 5.")
    assert last_body(emu)["messages"][1]["reasoning_content"] == first.message.blocks[0].content


@pytest.mark.parametrize("stream", [False, True])
def test_token_counting_handler(emu: EmulatorServer, stream: bool, fmt: str) -> None:
    counter = TokenCountingHandler()
    llm = make(emu, api_format=fmt, callback_manager=CallbackManager([counter]))
    if stream:
        responses = list(llm.stream_chat(msgs("count these tokens")))
        usage = responses[-1].raw["usage"]
    else:
        usage = llm.chat(msgs("count these tokens")).raw["usage"]
    assert counter.prompt_llm_token_count == usage["prompt_tokens"] > 0
    assert counter.completion_llm_token_count == usage["completion_tokens"] > 0


def test_image_input_reaches_a_vision_model(emu: EmulatorServer) -> None:
    message = ChatMessage(role="user", blocks=[ImageBlock(url="https://x/cat.png")])
    message.blocks.insert(0, ChatMessage(role="user", content="What is this?").blocks[0])
    assert "1 image" in make(emu, model="kimi-k2.5").chat([message]).message.content


PROMPT = PromptTemplate("Extract the person: {text}")


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
async def test_structured_predict(emu: EmulatorServer, method: str, fmt: str) -> None:
    llm = make(emu, model="qwen3.6-plus", structured_output_method=method, api_format=fmt)
    if fmt == "anthropic" and method == "json_schema":
        with pytest.raises(InvalidInputError, match="use tool calling"):
            llm.structured_predict(Person, PROMPT, text="Ann is 41")
        return
    person = llm.structured_predict(Person, PROMPT, text="Ann is 41")
    assert isinstance(person, Person) and person.age == 41
    person = await llm.astructured_predict(Person, PROMPT, text="Bob is 52")
    assert person.age == 52
    body = last_body(emu)
    if method == "json_schema":
        assert body["response_format"]["json_schema"]["name"] == "Person" and "tools" not in body
    else:
        assert body["tool_choice"] == "required" and body["tools"][0]["function"]["name"] == "Person"
    streamed = list(llm.stream_structured_predict(Person, PROMPT, text="Cy is 63"))
    assert streamed[-1].age == 63
    astreamed = [p async for p in await llm.astream_structured_predict(Person, PROMPT, text="Di is 74")]
    assert astreamed[-1].age == 74


def test_as_structured_llm(emu: EmulatorServer, fmt: str) -> None:
    structured = make(emu, api_format=fmt).as_structured_llm(Person)
    response = structured.chat(msgs("Eve is 35"))
    assert isinstance(response.raw, Person) and response.raw.age == 35


async def test_function_agent_multi_step(emu: EmulatorServer, fmt: str) -> None:
    agent = FunctionAgent(tools=[add, multiply], llm=make(emu, api_format=fmt, model="glm-5"))
    result = await agent.run("Use add on 3 and 4, then multiply the result by 5")
    assert str(result).endswith("The final answer is 35.")


async def test_agent_workflow_streams_events(emu: EmulatorServer, fmt: str) -> None:
    workflow = AgentWorkflow.from_tools_or_functions([add, multiply], llm=make(emu, api_format=fmt, model="kimi-k2.5"))
    handler = workflow.run(user_msg="Use add on 2 and 8, then multiply the result by 3")
    deltas, tool_results = [], []
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            deltas.append(event.delta)
        elif isinstance(event, ToolCallResult):
            tool_results.append((event.tool_name, event.tool_output.content))
    result = await handler
    assert tool_results == [("add", "10"), ("multiply", "30")]
    assert "".join(deltas).endswith("The final answer is 30.") and str(result).endswith("30.")


async def test_react_agent(emu: EmulatorServer, fmt: str) -> None:
    agent = ReActAgent(tools=[add, multiply], llm=make(emu, api_format=fmt))
    result = await agent.run("Use add on 3 and 4, then multiply the result by 5")
    assert str(result) == "The final answer is 35."


async def test_list_models(emu: EmulatorServer) -> None:
    llm = make(emu)
    ids = [m["id"] for m in llm.list_models()]
    assert "qwen3.7-max" in ids and ids == [m["id"] for m in await llm.alist_models()]


class _Capture(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Capture"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


async def test_api_key_never_serialized_or_traced(emu: EmulatorServer) -> None:
    secret = emu.api_key
    capture = _Capture(events=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(capture)
    try:
        llm = make(emu)
        llm.chat(msgs("hi"))
        list(llm.stream_chat(msgs("hi")))
        await FunctionAgent(tools=[add], llm=llm).run("Please add 1 and 2")
    finally:
        dispatcher.event_handlers.remove(capture)
    assert capture.events
    texts = [repr(llm), str(llm), json.dumps(llm.to_dict(), default=str), llm.to_json(),
             llm.model_dump_json(), repr(llm._client), *(e.model_dump_json() for e in capture.events)]
    for text in texts:
        assert secret not in text
    assert "api_key" not in llm.to_dict()
    restored = A2AgentLLM.from_dict({**llm.to_dict(), "api_key": secret})
    assert restored.model == llm.model and restored.api_base == llm.api_base
