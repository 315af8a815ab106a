"""The contenders, each behind the same three calls: invoke (sync), stream (sync, consumed), ainvoke."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

KEY = "sk-bench-0123456789abcdef"
PROMPT = "Say something short."
LIMITS = {"max_connections": 1000, "max_keepalive_connections": 200}


@dataclass
class Contender:
    name: str
    invoke: Callable[[], Any]
    stream: Callable[[str], int]  # model -> number of chunks seen
    ainvoke: Callable[[], Coroutine[Any, Any, Any]]
    astream: Callable[[str], Coroutine[Any, Any, int]]


def raw_sse_stream(http: Any, url: str, body: bytes, headers: dict[str, str]) -> int:
    """What a hand-written httpx client does with a stream: lines, ``data:`` ones to json.loads."""
    seen = 0
    with http.stream("POST", url, content=body, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                json.loads(line[6:])
                seen += 1
    return seen


def raw_httpx(base_url: str) -> Contender:
    import httpx

    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    client = httpx.Client(limits=httpx.Limits(**LIMITS))
    aclient = httpx.AsyncClient(limits=httpx.Limits(**LIMITS))
    url = base_url + "/chat/completions"

    def body(model: str, stream: bool = False) -> bytes:
        payload: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
        if stream:
            payload.update(stream=True, stream_options={"include_usage": True})
        return json.dumps(payload).encode()

    def invoke() -> str:
        return str(json.loads(client.post(url, content=body("bench"), headers=headers).content)["choices"][0][
            "message"]["content"])

    def stream(model: str) -> int:
        return raw_sse_stream(client, url, body(model, True), headers)

    async def ainvoke() -> str:
        response = await aclient.post(url, content=body("bench"), headers=headers)
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    async def astream(model: str) -> int:
        seen = 0
        async with aclient.stream("POST", url, content=body(model, True), headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    seen += 1
        return seen

    return Contender("raw httpx", invoke, stream, ainvoke, astream)


def openai_sdk(base_url: str) -> Contender:
    import openai

    client, aclient = openai.OpenAI(base_url=base_url, api_key=KEY), openai.AsyncOpenAI(base_url=base_url,
                                                                                          api_key=KEY)
    messages = [{"role": "user", "content": PROMPT}]

    def invoke() -> Any:
        return client.chat.completions.create(model="bench", messages=messages).choices[0].message.content  # type: ignore[arg-type]

    def stream(model: str) -> int:
        return sum(1 for _ in client.chat.completions.create(model=model, messages=messages, stream=True,  # type: ignore[arg-type]
                                                              stream_options={"include_usage": True}))

    async def ainvoke() -> Any:
        return (await aclient.chat.completions.create(model="bench", messages=messages)).choices[0]  # type: ignore[arg-type]

    async def astream(model: str) -> int:
        seen = 0
        async for _ in await aclient.chat.completions.create(model=model, messages=messages, stream=True,  # type: ignore[arg-type]
                                                             stream_options={"include_usage": True}):
            seen += 1
        return seen

    return Contender("openai SDK", invoke, stream, ainvoke, astream)


def _framework(name: str, factory: Callable[[str], Any], call: Callable[[Any], Any],
               acall: Callable[[Any], Coroutine[Any, Any, Any]], stream: Callable[[Any], Any],
               astream: Callable[[Any], Coroutine[Any, Any, Any]]) -> Contender:
    """A framework model behind the four calls; one instance per model name (streams use their own)."""
    llm = factory("bench")
    models: dict[str, Any] = {}

    def for_model(model: str) -> Any:
        if model not in models:
            models[model] = factory(model)
        return models[model]

    async def consume(model: str) -> int:
        seen = 0
        async for _ in await astream(for_model(model)):
            seen += 1
        return seen

    return Contender(name, lambda: call(llm), lambda model: sum(1 for _ in stream(for_model(model))),
                     lambda: acall(llm), consume)


def _langchain(name: str, factory: Callable[[str], Any]) -> Contender:
    async def astream(llm: Any) -> Any:
        return llm.astream(PROMPT)

    return _framework(name, factory, lambda llm: llm.invoke(PROMPT), lambda llm: llm.ainvoke(PROMPT),
                      lambda llm: llm.stream(PROMPT), astream)


def chat_openai(base_url: str) -> Contender:
    from langchain_openai import ChatOpenAI

    return _langchain("ChatOpenAI", lambda m: ChatOpenAI(model=m, base_url=base_url, api_key=KEY,  # type: ignore[arg-type]
                                                         stream_usage=True))


def chat_a2agent(base_url: str) -> Contender:
    from langchain_a2agent import ChatA2Agent

    return _langchain("ChatA2Agent", lambda m: ChatA2Agent(model=m, base_url=base_url, api_key=KEY))


def _llama(name: str, factory: Callable[[str], Any]) -> Contender:
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content=PROMPT)]
    return _framework(name, factory, lambda llm: llm.chat(messages), lambda llm: llm.achat(messages),
                      lambda llm: llm.stream_chat(messages), lambda llm: llm.astream_chat(messages))


def openai_like(base_url: str) -> Contender:
    from llama_index.llms.openai_like import OpenAILike

    return _llama("OpenAILike", lambda m: OpenAILike(model=m, api_base=base_url, api_key=KEY, is_chat_model=True,
                                                     context_window=32768))


def a2agent_llm(base_url: str) -> Contender:
    from llama_index_a2agent import A2AgentLLM

    return _llama("A2AgentLLM", lambda m: A2AgentLLM(model=m, api_base=base_url, api_key=KEY, context_window=32768))


CONTENDERS: dict[str, Callable[[str], Contender]] = {
    "raw httpx": raw_httpx, "openai SDK": openai_sdk, "ChatOpenAI": chat_openai, "ChatA2Agent": chat_a2agent,
    "OpenAILike": openai_like, "A2AgentLLM": a2agent_llm,
}


# -- framework floors ------------------------------------------------------------------------------
# A do-nothing chat model per framework, on the adapters' base class and driven through the same
# public calls: per call it builds one response from a prebuilt string, per chunk the framework's
# minimal chunk object. No HTTP, no JSON: what is left is the framework's own machinery, which any
# provider pays. An adapter's cost is reported against raw httpx + its framework's floor.
ANSWER = "The quick brown fox jumps over the lazy dog."


def _pieces(model: str) -> list[str]:
    count = int(model.rsplit("-", 1)[1]) if model.startswith("bench-stream-") else 0
    return [f"tok{i} " for i in range(count)]


def langchain_floor(base_url: str) -> Contender:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class FloorChatModel(BaseChatModel):
        pieces: list[str] = []

        @property
        def _llm_type(self) -> str:
            return "floor"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=ANSWER))])

        async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                             **kwargs: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=ANSWER))])

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            for piece in self.pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

        async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            for piece in self.pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    return _langchain("LangChain floor", lambda m: FloorChatModel(pieces=_pieces(m)))


def llama_index_floor(base_url: str) -> Contender:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        CompletionResponse,
        LLMMetadata,
        MessageRole,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback
    from llama_index.core.llms.function_calling import FunctionCallingLLM

    def answer() -> ChatResponse:
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=ANSWER))

    class FloorLLM(FunctionCallingLLM):
        pieces: list[str] = []

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=True, is_function_calling_model=True, model_name="floor")

        @llm_chat_callback()
        def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            return answer()

        @llm_chat_callback()
        async def achat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            return answer()

        @llm_chat_callback()
        def stream_chat(self, messages: Any, **kwargs: Any) -> Any:
            def gen() -> Any:
                text = ""
                for piece in self.pieces:
                    text += piece  # the contract: every ChatResponse carries the message so far
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

            return gen()

        @llm_chat_callback()
        async def astream_chat(self, messages: Any, **kwargs: Any) -> Any:
            async def gen() -> Any:
                text = ""
                for piece in self.pieces:
                    text += piece
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

            return gen()

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=ANSWER)

        async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=ANSWER)

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        def _prepare_chat_with_tools(self, tools: Any, **kwargs: Any) -> dict[str, Any]:
            return {"messages": kwargs.get("chat_history") or [], "tools": tools}

        def get_tool_calls_from_response(self, response: Any, error_on_no_tool_call: bool = True,
                                         **kwargs: Any) -> list[Any]:
            return []

    return _llama("LlamaIndex floor", lambda m: FloorLLM(pieces=_pieces(m)))


def a2agent_core(base_url: str, limiter: bool = True) -> Contender:
    """The framework-free core client; ``limiter=False`` switches the per-key limiter off (A/B)."""
    import a2agent

    kwargs: dict[str, Any] = {} if limiter else {"limiter": False}
    client = a2agent.A2AgentClient(api_key=KEY, base_url=base_url, **kwargs)
    aclient = a2agent.AsyncA2AgentClient(api_key=KEY, base_url=base_url, **kwargs)
    messages = [{"role": "user", "content": PROMPT}]

    def stream(model: str) -> int:
        with client.stream_chat_completions({"model": model, "messages": messages,
                                             "stream_options": {"include_usage": True}}, accumulate=False) as s:
            return sum(1 for _ in s)

    async def astream(model: str) -> int:
        async with aclient.stream_chat_completions({"model": model, "messages": messages,
                                                    "stream_options": {"include_usage": True}},
                                                   accumulate=False) as s:
            return sum([1 async for _ in s])

    return Contender("a2agent core" if limiter else "a2agent core, limiter off",
                     lambda: client.chat_completions({"model": "bench", "messages": messages}), stream,
                     lambda: aclient.chat_completions({"model": "bench", "messages": messages}), astream)


# Measured beside the others, reported on their own: the core with its limiter on (the default) and off.
CORE: dict[str, Callable[[str], Contender]] = {"a2agent core": a2agent_core,
                                               "a2agent core, limiter off": lambda url: a2agent_core(url, False)}

FLOORS: dict[str, Callable[[str], Contender]] = {"LangChain floor": langchain_floor,
                                                 "LlamaIndex floor": llama_index_floor}
FLOOR_OF = {"ChatA2Agent": "LangChain floor", "ChatOpenAI": "LangChain floor",
            "A2AgentLLM": "LlamaIndex floor", "OpenAILike": "LlamaIndex floor"}
