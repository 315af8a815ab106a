"""ChatA2Agent against the emulator on loopback: parameters, tools, structured output, reasoning,
usage, errors, secrets, and a tool-calling agent end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.tools import tool
from pydantic import BaseModel
from typing_extensions import TypedDict

from a2agent import APITimeoutError, AuthenticationError, InvalidInputError
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent
from tests.conftest import emulator_greeting, last_request_body
from tests.langchain.common import call


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Person(BaseModel):
    """A person."""

    name: str
    age: int


class PersonDict(TypedDict):
    """A person."""

    name: str
    age: int


class Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


class JokeDict(TypedDict):
    """A joke."""

    setup: str
    punchline: str


def make(emu: EmulatorServer, **kwargs: Any) -> ChatA2Agent:
    kwargs.setdefault("model", "deepseek-chat")
    return ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, **kwargs)


last_body = last_request_body




MODES = ["invoke", "ainvoke", "stream", "astream"]


@pytest.mark.parametrize("mode", MODES)
async def test_response_and_usage_metadata(emu: EmulatorServer, mode: str, fmt: str) -> None:
    llm = make(emu, api_format=fmt, model="glm-5")
    messages = [("system", "You are a long and careful assistant. " * 10), ("human", "hi")]
    await call(llm, mode, messages)
    msg = await call(llm, mode, messages)
    assert msg.content == emulator_greeting("glm-5")
    assert msg.response_metadata["model_name"] == "glm-5"
    assert msg.response_metadata["finish_reason"] == "stop"
    if fmt == "openai":
        assert msg.response_metadata["system_fingerprint"] == "fp_a2agent_emulator"
    assert msg.id and msg.id.startswith("chatcmpl-" if fmt == "openai" else "msg_")
    usage = msg.usage_metadata
    assert usage["input_token_details"]["cache_read"] > 0  # the repeated system prompt hit the cache
    if fmt == "openai":  # Anthropic usage folds thinking into output_tokens, with no separate count
        assert usage["output_token_details"]["reasoning"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    greeting_thought = "The user is greeting me, so I'll say hello back and offer to help."
    assert msg.additional_kwargs["reasoning_content"] == greeting_thought
    assert msg.content_blocks[0]["type"] == "reasoning"


@pytest.mark.parametrize("mode", MODES)
async def test_reasoning_is_sent_back_on_tool_call_turns(emu: EmulatorServer, mode: str, fmt: str) -> None:
    # glm-5 thinks; in thinking mode the gateway answers 400 unless reasoning_content comes back.
    llm = make(emu, api_format=fmt, model="glm-5").bind_tools([add])
    messages: list[Any] = [HumanMessage("Please add 2 and 3")]
    first = await call(llm, mode, messages)
    assert first.tool_calls[0]["args"] == {"a": 2, "b": 3}
    messages += [first, ToolMessage("5", tool_call_id=first.tool_calls[0]["id"])]
    final = await call(llm, mode, messages)
    assert final.content.endswith("The final answer is 5.")
    sent = last_body(emu)["messages"][1]
    assert sent["reasoning_content"] == first.additional_kwargs["reasoning_content"]


@pytest.mark.parametrize("mode", MODES)
async def test_invalid_tool_call_json(emu: EmulatorServer, mode: str) -> None:
    emu.script({"tool_calls": [{"name": "add", "arguments": '{"a": 1, "b": oops}'}]})
    msg = await call(make(emu).bind_tools([add]), mode, "add")
    assert msg.tool_calls == []
    assert msg.invalid_tool_calls[0]["name"] == "add"
    assert msg.invalid_tool_calls[0]["args"] == '{"a": 1, "b": oops}'


@pytest.mark.parametrize("mode", MODES)
async def test_parallel_tool_calls_stream_by_index(emu: EmulatorServer, mode: str, fmt: str) -> None:
    llm = make(emu, api_format=fmt).bind_tools([add, multiply])
    msg = await call(llm, mode, "Call add and multiply in parallel on 6 and 7")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [("add", {"a": 6, "b": 7}),
                                                                ("multiply", {"a": 1, "b": 1})]
    assert len({c["id"] for c in msg.tool_calls}) == 2


def test_stream_yields_incremental_chunks(emu: EmulatorServer, fmt: str) -> None:
    chunks = list(make(emu, api_format=fmt).stream("one two three"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert len([c for c in chunks if c.content]) >= 8  # token by token, not one blob
    assert chunks[-1].chunk_position == "last"
    usage_option = {"stream_options": {"include_usage": True}} if fmt == "openai" else {}  # Anthropic: always
    assert body_has(last_body(emu), stream=True, **usage_option)
    assert chunks[-2].usage_metadata or chunks[-1].usage_metadata


def body_has(body: dict[str, Any], **expected: Any) -> bool:
    return all(body.get(k) == v for k, v in expected.items())


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"temperature": 0.3, "top_p": 0.5, "seed": 7, "max_tokens": 50, "stop": ["!"]},
         {"temperature": 0.3, "top_p": 0.5, "seed": 7, "max_tokens": 50, "stop": ["!"]}),
        ({"model_kwargs": {"frequency_penalty": 0.1}}, {"frequency_penalty": 0.1}),
        ({"extra_body": {"thinking": {"type": "enabled"}}}, {"thinking": {"type": "enabled"}}),
        ({"thinking": False}, {"thinking": {"type": "disabled"}}),
        ({"reasoning_effort": "high"}, {"reasoning_effort": "high"}),
        ({"logprobs": True, "top_logprobs": 2}, {"logprobs": True, "top_logprobs": 2}),
        ({"stop_sequences": "!"}, {"stop": ["!"]}),
    ],
    ids=["sampling", "model_kwargs", "extra_body", "thinking_flag", "reasoning_effort", "logprobs", "stop_alias"],
)
def test_parameters_reach_the_wire(emu: EmulatorServer, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    make(emu, **kwargs).invoke("hi")
    assert body_has(last_body(emu), **expected), last_body(emu)


def test_call_time_kwargs_and_model_override(emu: EmulatorServer) -> None:
    msg = make(emu).invoke("hi", model="kimi-k2.5", temperature=1.0, stop=["x"])
    assert msg.response_metadata["model_name"] == "kimi-k2.5"
    assert body_has(last_body(emu), model="kimi-k2.5", temperature=1.0, stop=["x"])


def test_default_headers(emu: EmulatorServer) -> None:
    make(emu, default_headers={"X-Project": "p1"}).invoke("hi")
    assert emu.requests[-1]["headers"]["x-project"] == "p1"


def test_stop_sequence_and_max_tokens_behaviour(emu: EmulatorServer) -> None:
    assert make(emu, stop=["!"]).invoke("hi").content == "Hello"
    short = make(emu, max_tokens=2).invoke("hi")
    assert short.content == "Hello!" and short.response_metadata["finish_reason"] == "length"  # 2 tokens


def test_logprobs(emu: EmulatorServer) -> None:
    msg = make(emu, logprobs=True, top_logprobs=1).invoke("hi")
    assert msg.response_metadata["logprobs"]["content"][0]["token"] == "Hello!"
    chunks = list(make(emu, logprobs=True).stream("hi"))
    assert any(c.response_metadata.get("logprobs") for c in chunks)


def test_n_choices(emu: EmulatorServer) -> None:
    result = make(emu, n=2).generate([[HumanMessage("hi")]])
    assert [g.message.content for g in result.generations[0]] == [emulator_greeting("deepseek-chat")] * 2
    with pytest.raises(InvalidInputError, match="n > 1"):
        make(emu, n=2, streaming=True)


def test_stream_usage_off(emu: EmulatorServer) -> None:
    chunks = list(make(emu, stream_usage=False).stream("hi"))
    assert "stream_options" not in last_body(emu)
    assert all(c.usage_metadata is None for c in chunks)


def test_disable_streaming_uses_plain_calls(emu: EmulatorServer) -> None:
    chunks = list(make(emu, disable_streaming=True).stream("hi"))
    assert len(chunks) == 1 and "stream" not in last_body(emu)


def test_streaming_flag_makes_invoke_stream(emu: EmulatorServer) -> None:
    msg = make(emu, streaming=True).invoke("hi")
    assert msg.content == emulator_greeting("deepseek-chat") and last_body(emu)["stream"] is True


async def test_batch_and_abatch(emu: EmulatorServer) -> None:
    llm = make(emu)
    assert [m.content[-2:] for m in llm.batch(["a1", "a2", "a3"])] == ["a1", "a2", "a3"]
    assert [m.content[-2:] for m in await llm.abatch(["b1", "b2"])] == ["b1", "b2"]


class SpyRateLimiter(BaseRateLimiter):
    """Grants every acquire, noting how many requests the emulator had seen at that moment."""

    def __init__(self, emu: EmulatorServer) -> None:
        self.emu = emu
        self.seen: list[int] = []

    def acquire(self, *, blocking: bool = True) -> bool:
        self.seen.append(len(self.emu.requests))
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        return self.acquire(blocking=blocking)


async def test_rate_limiter_is_consulted(emu: EmulatorServer) -> None:
    limiter = SpyRateLimiter(emu)
    llm = make(emu, rate_limiter=limiter)
    llm.invoke("hi")
    llm.invoke("hi")
    assert "".join(str(c.content) for c in llm.stream("ping")).endswith("ping")
    await llm.ainvoke("hi")
    # Once per call, each time before its request reached the server (counted there, not timed here).
    assert limiter.seen == [0, 1, 2, 3] and len(emu.requests) == 4


def test_retries_and_timeout(emu: EmulatorServer, fmt: str) -> None:
    emu.script({"status": 503, "headers": {"retry-after-ms": "10"}, "times": 2})
    assert make(emu, api_format=fmt, max_retries=2).invoke("ping").content.endswith("ping")
    emu.script({"delay": 30.0})  # held until the client hangs up: only the client's 0.2 s timeout can end it
    with pytest.raises(APITimeoutError):
        make(emu, api_format=fmt, timeout=0.2, max_retries=0).invoke("hi")


def test_bad_key_is_typed(emu: EmulatorServer) -> None:
    with pytest.raises(AuthenticationError):
        ChatA2Agent(api_key="sk-nope-0123456789abcd", base_url=emu.base_url).invoke("hi")


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="A2AGENT_API_KEY"):
        ChatA2Agent()


def test_env_configuration(monkeypatch: pytest.MonkeyPatch, emu: EmulatorServer) -> None:
    monkeypatch.setenv("A2AGENT_API_KEY", emu.api_key)
    monkeypatch.setenv("A2AGENT_BASE_URL", emu.base_url)
    assert ChatA2Agent().invoke("ping").content.endswith("ping")


@pytest.mark.parametrize(
    ("tool_spec", "name"),
    [
        ({"type": "function", "function": {"name": "lookup", "description": "d",
                                           "parameters": {"type": "object", "properties": {}}}}, "lookup"),
        (Person, "Person"),
        (PersonDict, "PersonDict"),
        (add, "add"),
    ],
    ids=["openai_dict", "pydantic", "typeddict", "base_tool"],
)
def test_bind_tools_formats(emu: EmulatorServer, tool_spec: Any, name: str, fmt: str) -> None:
    make(emu, api_format=fmt).bind_tools([tool_spec], tool_choice=name).invoke("go")
    sent = last_body(emu)
    assert sent["tools"][0]["function"]["name"] == name
    assert sent["tool_choice"] == {"type": "function", "function": {"name": name}}


def test_bind_plain_function(emu: EmulatorServer) -> None:
    def lookup_city(city: str) -> str:
        """Look up a city."""
        return city

    msg = make(emu).bind_tools([lookup_city]).invoke("Find the city 'Paris'")
    assert msg.tool_calls[0]["args"] == {"city": "Paris"}


@pytest.mark.parametrize(
    ("choice", "wire"),
    [("auto", "auto"), ("none", "none"), ("required", "required"), ("any", "required"),
     ("add", {"type": "function", "function": {"name": "add"}}),
     (True, {"type": "function", "function": {"name": "add"}}),
     ({"type": "function", "function": {"name": "add"}}, {"type": "function", "function": {"name": "add"}})],
    ids=["auto", "none", "required", "any", "name", "true", "dict"],
)
def test_tool_choice(emu: EmulatorServer, choice: Any, wire: Any, fmt: str) -> None:
    msg = make(emu, api_format=fmt).bind_tools([add], tool_choice=choice).invoke("hello")
    assert last_body(emu)["tool_choice"] == wire
    assert bool(msg.tool_calls) is (choice not in ("auto", "none"))


def test_tool_choice_errors() -> None:
    llm = ChatA2Agent(api_key="sk-test-0123456789abcdef")
    with pytest.raises(InvalidInputError, match="not one of the bound tools"):
        llm.bind_tools([add], tool_choice="subtract")
    with pytest.raises(InvalidInputError, match="exactly one tool"):
        llm.bind_tools([add, multiply], tool_choice=True)


def test_parallel_tool_calls_and_strict(emu: EmulatorServer) -> None:
    make(emu).bind_tools([add], parallel_tool_calls=False, strict=True).invoke("add 1 and 2")
    sent = last_body(emu)
    assert sent["parallel_tool_calls"] is False
    assert sent["tools"][0]["function"]["strict"] is True


STRUCTURED = [
    ("function_calling", Person, "Ann is 41"), ("function_calling", PersonDict, "Ann is 41"),
    ("json_schema", Person, "Ann is 41"), ("json_schema", PersonDict, "Ann is 41"),
    # json_mode sends no schema: the prompt names the keys, as the API's docs ask.
    ("json_mode", Joke, "Tell a joke as JSON with 'setup' and 'punchline'"),
    ("json_mode", JokeDict, "Tell a joke as JSON with 'setup' and 'punchline'"),
]


@pytest.mark.parametrize(("method", "schema", "prompt"), STRUCTURED,
                         ids=[f"{m}-{s.__name__}" for m, s, _ in STRUCTURED])
@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_structured_output(emu: EmulatorServer, method: str, schema: Any, prompt: str, mode: str, fmt: str) -> None:
    llm = make(emu, model="qwen3.6-plus", api_format=fmt)
    structured = llm.with_structured_output(schema, method=method)  # type: ignore[arg-type]
    if fmt == "anthropic" and method != "function_calling":
        with pytest.raises(InvalidInputError, match="use tool calling"):
            structured.invoke(prompt)
        return
    result = structured.invoke(prompt) if mode == "invoke" else list(structured.stream(prompt))[-1]
    data = result.model_dump() if isinstance(result, BaseModel) else result
    assert set(data) == set(schema.__annotations__)
    assert isinstance(result, schema) if isinstance(schema, type) and issubclass(schema, BaseModel) \
        else isinstance(result, dict)
    if schema in (Person, PersonDict):
        assert data["age"] == 41
    sent = last_body(emu)
    if method == "function_calling":
        assert sent["tool_choice"]["function"]["name"] == schema.__name__ and sent["parallel_tool_calls"] is False
    elif method == "json_schema":
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "age"]
    else:
        assert sent["response_format"] == {"type": "json_object"}


def test_structured_output_include_raw(emu: EmulatorServer, fmt: str) -> None:
    out = make(emu, api_format=fmt).with_structured_output(Person, include_raw=True).invoke("Ann is 41")
    assert isinstance(out["raw"], AIMessage) and isinstance(out["parsed"], Person) and out["parsing_error"] is None
    emu.script({"tool_calls": [{"name": "Person", "arguments": {"name": "Ann"}}]})  # age missing
    out = make(emu, api_format=fmt).with_structured_output(Person, include_raw=True).invoke("Ann is 41")
    assert out["parsed"] is None and out["parsing_error"] is not None


def test_structured_output_bad_arguments() -> None:
    llm = ChatA2Agent(api_key="sk-test-0123456789abcdef")
    with pytest.raises(InvalidInputError, match="method"):
        llm.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Unsupported arguments"):
        llm.with_structured_output(Person, tools=[])


async def test_list_models(emu: EmulatorServer) -> None:
    llm = make(emu)
    ids = [m["id"] for m in llm.list_models()]
    assert "glm-5" in ids and ids == [m["id"] for m in await llm.alist_models()]


def test_ls_params_and_profile() -> None:
    llm = ChatA2Agent(api_key="sk-test-0123456789abcdef", model="kimi-k2.5", temperature=0.1, max_tokens=9, stop=["z"])
    assert llm._get_ls_params() == {"ls_provider": "a2agent", "ls_model_name": "kimi-k2.5", "ls_model_type": "chat",
                                    "ls_temperature": 0.1, "ls_max_tokens": 9, "ls_stop": ["z"]}
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == 262144 and llm.profile["image_inputs"] is True


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, **kwargs: Any) -> None:
        self.seen.append(json.dumps(serialized, default=str) + json.dumps(kwargs, default=str))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.seen.append(repr(response))


def test_api_key_never_leaks(emu: EmulatorServer) -> None:
    secret = emu.api_key
    llm = make(emu)
    recorder = _Recorder()
    llm.invoke("hi", config={"callbacks": [recorder]})
    for text in (repr(llm), str(llm), dumps(llm), llm.model_dump_json(), json.dumps(llm._get_ls_params()),
                 *recorder.seen, repr(llm.client), repr(llm.client.config)):
        assert secret not in text
    assert recorder.seen


def test_agent_end_to_end(emu: EmulatorServer, fmt: str) -> None:
    from langchain.agents import create_agent

    agent = create_agent(make(emu, api_format=fmt, model="glm-5"), tools=[add, multiply])
    result = agent.invoke({"messages": [("user", "Use add on 3 and 4, then multiply the result by 5")]})
    messages = result["messages"]
    tools_run = [m for m in messages if isinstance(m, ToolMessage)]
    assert [(m.name, m.content) for m in tools_run] == [("add", "7"), ("multiply", "35")]
    assert messages[-1].content.endswith("The final answer is 35.")


async def test_agent_streaming_async(emu: EmulatorServer, fmt: str) -> None:
    from langchain.agents import create_agent

    agent = create_agent(make(emu, api_format=fmt, model="deepseek-chat"), tools=[add, multiply])
    tokens: list[str] = []
    async for token, _meta in agent.astream({"messages": [("user", "Use add on 1 and 2, then multiply by 10")]},
                                            stream_mode="messages"):
        if isinstance(token, AIMessageChunk) and token.content:
            tokens.append(str(token.content))
    assert "".join(tokens).endswith("The final answer is 30.")
