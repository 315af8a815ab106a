"""``ChatA2Agent``: the LangChain chat model for the A2Agent gateway, a thin layer over the core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal, Self

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel, agenerate_from_stream, generate_from_stream
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import JsonOutputKeyToolsParser, JsonOutputParser, PydanticToolsParser
from langchain_core.output_parsers.pydantic import PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, model_validator

from a2agent import A2AgentClient, AsyncA2AgentClient, InvalidInputError, LimiterStats, get_model_profile, token_counter
from a2agent.integration import (
    PARAMETER_DOCS,
    check_sampling,
    forced_tool_choice_allowed,
    invalid_input,
    json_schema_response_format,
    memo_sharing,
    normalize_tool_choice,
    reasoning_for_request,
    relax_forced_tool_choice,
    split_unknown_arguments,
    state_without_secrets,
    to_strict_json_schema,
)
from a2agent.types import Model

from ._convert import PROVIDER, BlockIndexer, chunk_to_generation, completion_to_result, messages_to_dicts
from ._errors import LANGCHAIN_ERRORS

__all__ = ["ChatA2Agent"]

class ChatA2Agent(BaseChatModel):
    """Chat model for the A2Agent gateway: DeepSeek, GLM, Kimi, MiniMax and Qwen models behind one key.

    Setup:
        ``pip install "a2agent[langchain]"``, then ``export A2AGENT_API_KEY="..."``. Without a key,
        ``python -m a2agent.emulator`` serves a local emulator (it prints the two variables to set).

    Key init args — completion params:
        model (str): A2Agent model id, e.g. ``"deepseek-chat"``, ``"glm-5"``, ``"kimi-k2.5"``,
            ``"qwen3.7-max"`` (``a2agent.MODEL_PROFILES`` lists them with their limits).
        temperature (float | None): 0 to 2.
        max_tokens (int | None): most tokens to generate (alias ``max_completion_tokens``).
        top_p, stop (alias ``stop_sequences``), seed, n, logprobs, top_logprobs.
        thinking (bool | None): switch thinking mode on or off on models that have one.
        reasoning_effort (str | None): ``"low"``, ``"medium"`` or ``"high"`` (``"minimal"`` too),
            sent as is; in the Anthropic format it sets the thinking budget.

    Key init args — client params:
        api_key (str | None): default ``A2AGENT_API_KEY``; surrounding whitespace is stripped.
        base_url (str | None): alias ``api_base``; default ``A2AGENT_BASE_URL`` or
            ``https://api.a2agent.me/v1``.
        api_format (str): ``"openai"`` (chat completions, default) or ``"anthropic"`` (Messages).
        timeout (float | None): seconds to wait for the server (alias ``request_timeout``);
            default 600 s to read, at most 10 s to connect.
        max_retries (int): retries of 408/409/429/5xx and connection errors, default 2.
        default_headers, model_kwargs, extra_body, http_client, http_async_client.
        Other keyword arguments are request parameters: they go to ``model_kwargs`` with a
        warning; a near miss of a declared name (``temprature``) is an error.

    Instantiate:
        ```python
        from langchain_a2agent import ChatA2Agent

        llm = ChatA2Agent(model="deepseek-chat", temperature=0, max_tokens=512)
        ```

    Invoke, stream, async, batch:
        ```python
        llm.invoke([("system", "Answer briefly."), ("human", "What is the capital of France?")])
        for chunk in llm.stream("Tell me a story"):
            print(chunk.content, end="")
        await llm.ainvoke("Hello")
        llm.batch(["a", "b", "c"], config={"max_concurrency": 8})
        ```

    Tool calling:
        ```python
        from pydantic import BaseModel, Field

        class GetWeather(BaseModel):
            "Get the current weather in a city."
            city: str = Field(description="The city")

        msg = llm.bind_tools([GetWeather]).invoke("Weather in Paris?")
        msg.tool_calls  # [{"name": "GetWeather", "args": {"city": "Paris"}, "id": "...", "type": "tool_call"}]
        ```
        ``tool_choice``: "auto", "none", "required"/"any", a tool name, or True (the single tool);
        ``parallel_tool_calls``; ``strict=True`` sends strict-valid schemas.

    Structured output:
        ```python
        class Person(BaseModel):
            name: str
            age: int

        llm.with_structured_output(Person).invoke("Ann is 41")  # Person(name="Ann", age=41)
        ```
        ``method="function_calling"`` (default, every model), ``"json_schema"`` (models whose profile
        says so, OpenAI format) or ``"json_mode"``; ``include_raw=True`` returns the raw message too.

    Token usage and response metadata:
        ``msg.usage_metadata`` -> ``{"input_tokens", "output_tokens", "total_tokens",
        "input_token_details": {"cache_read"}, "output_token_details": {"reasoning"}}`` (streams too:
        ``stream_usage`` is on); ``msg.response_metadata`` -> ``model_name``, ``finish_reason``, ``id``.
        Offline: ``get_num_tokens_from_messages(messages, tools=...)``, ``get_num_tokens(text)``,
        so ``trim_messages(..., token_counter=llm)`` works (``a2agent.token_counter``).

    Reasoning models:
        The chain of thought arrives in ``additional_kwargs["reasoning_content"]`` (and as a
        ``reasoning`` block in ``content_blocks``); it is sent back on the assistant turns of the
        current tool loop, as DeepSeek/GLM/Kimi thinking mode requires.

    Errors:
        The core's typed errors (``a2agent.RateLimitError``, ...), each also LangChain's
        provider-neutral class (``langchain_core.exceptions.ModelRateLimitError``, ...); bad
        arguments raise ``a2agent.InvalidInputError`` at construction.
    """

    # defer_build: the schema is built on first use, not at import (~20 ms of every import otherwise).
    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, defer_build=True)

    model_name: str = Field(default="deepseek-chat", alias="model",
                            description="A2Agent model id, e.g. deepseek-chat, glm-5, kimi-k2.5, qwen3.7-max.")
    api_key: SecretStr | None = Field(default_factory=secret_from_env("A2AGENT_API_KEY", default=None),
                                      description="API key; A2AGENT_API_KEY when not given. Never logged or "
                                                  "serialized; surrounding whitespace is stripped.")
    base_url: str | None = Field(default_factory=from_env("A2AGENT_BASE_URL", default=None), alias="api_base",
                                 description="Gateway URL (alias api_base); A2AGENT_BASE_URL or "
                                             "https://api.a2agent.me/v1.")
    api_format: Literal["openai", "anthropic"] = Field(
        default="openai", description="Wire format: 'openai' (chat completions) or 'anthropic' (Messages).")
    temperature: float | None = Field(default=None, description=PARAMETER_DOCS["temperature"])
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens",
                                   description="Most tokens to generate (alias max_completion_tokens); the "
                                               "model's own maximum when not set.")
    top_p: float | None = Field(default=None, description=PARAMETER_DOCS["top_p"])
    stop: list[str] | str | None = Field(default=None, alias="stop_sequences",
                                         description="Stop sequences (alias stop_sequences).")
    seed: int | None = Field(default=None, description=PARAMETER_DOCS["seed"])
    n: int | None = Field(default=None, description="Choices per request (non-streaming; OpenAI format).")
    logprobs: bool | None = Field(default=None, description=PARAMETER_DOCS["logprobs"])
    top_logprobs: int | None = Field(default=None, description=PARAMETER_DOCS["top_logprobs"])
    reasoning_effort: str | None = Field(default=None, description=PARAMETER_DOCS["reasoning_effort"])
    thinking: bool | None = Field(default=None, description=PARAMETER_DOCS["thinking"])
    timeout: float | None = Field(default=None, alias="request_timeout",
                                  description="Seconds to wait for the server (alias request_timeout): default "
                                              "600 s to read, at most 10 s to connect.")
    max_retries: int = Field(default=2, description=PARAMETER_DOCS["max_retries"])
    default_headers: dict[str, str] | None = Field(default=None, description=PARAMETER_DOCS["default_headers"])
    model_kwargs: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra top-level request parameters (undeclared keyword "
                                                     "arguments land here, with a warning).")
    extra_body: dict[str, Any] | None = Field(default=None, description="Extra JSON merged into the request body "
                                                                        "(provider extensions).")
    streaming: bool = Field(default=False, description="Stream under invoke() too (callbacks get tokens).")
    stream_usage: bool = Field(default=True, description="Ask for token usage at the end of streams "
                                                         "(stream_options.include_usage).")
    http_client: Any | None = Field(default=None, exclude=True,
                                    description="Your own httpx.Client for sync calls (used as is, never closed).")
    http_async_client: Any | None = Field(default=None, exclude=True,
                                          description="Your own httpx.AsyncClient for async calls.")
    limiter: Any = Field(default=None, exclude=True, repr=False,  # a Redis password may be in it
                         description="Per-key rate limiter: None (on, defaults), False (off), a2agent.LimiterSettings "
                                     "or a dict; its state: model.limiter_stats().")

    _client: A2AgentClient | None = PrivateAttr(default=None)
    _async_client: AsyncA2AgentClient | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        kwargs = split_unknown_arguments("ChatA2Agent", kwargs, _known_arguments(type(self)), "model_kwargs")
        error = None
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:  # a typed error naming the field, never pydantic's (nor the value)
            error = invalid_input("ChatA2Agent", exc)
        if error is not None:
            raise error  # outside the except: the ValidationError (which shows values) is not chained
        # Checked here, not in a pydantic validator, so callers get InvalidInputError itself rather
        # than a ValidationError wrapping it; the core's validators, as for every a2agent client.
        self._check()

    def _check(self) -> None:
        check_sampling(self._default_params, "ChatA2Agent")
        if self.n and self.n > 1 and self.streaming:
            raise InvalidInputError("n > 1 cannot be combined with streaming=True")
        # Building the clients validates key, URL, timeout, retries, headers and format (no I/O).
        self._client = A2AgentClient(**self._client_kwargs(), http_client=self.http_client)
        self._async_client = AsyncA2AgentClient(**self._client_kwargs(), http_client=self.http_async_client)

    # Pickled without the key and the clients (the key never travels in a pickle); the receiving
    # process takes it from A2AGENT_API_KEY, and the clients are built again on first use.
    def __getstate__(self) -> dict[Any, Any]:
        return state_without_secrets(super().__getstate__(), ("http_client", "http_async_client"))

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # The copy shares the live clients (locks, pools), which cannot be copied; fields are copied.
        return super().__deepcopy__(memo_sharing(self, memo, ("http_client", "http_async_client")))

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._client = self._async_client = None  # built on first use; the core reads A2AGENT_API_KEY

    @model_validator(mode="after")
    def _normalize(self) -> Self:
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        return self

    def _resolve_model_profile(self) -> ModelProfile | None:
        # What this model supports over this wire format: "structured_output" is native
        # response_format json_schema (agents pick their provider strategy on it), which the
        # Messages format does not have; tool-based structured output works everywhere. "tool_choice"
        # (forcing a call) is off in thinking mode on backends that refuse it (Kimi).
        p = get_model_profile(self.model_name).for_format(self.api_format)
        return ModelProfile(max_input_tokens=p.context_window, max_output_tokens=p.max_output_tokens,
                            text_inputs=True, image_inputs=p.vision, image_url_inputs=p.vision,
                            tool_calling=p.tools, tool_call_streaming=p.tools,
                            tool_choice=p.tools and forced_tool_choice_allowed(self._default_params),
                            structured_output=p.json_schema, reasoning_output=p.reasoning != "none",
                            text_outputs=True)

    # -- clients (built lazily: constructing a model never opens sockets) -----------------------
    def _client_kwargs(self) -> dict[str, Any]:
        return {"api_key": self.api_key.get_secret_value() if self.api_key else None, "base_url": self.base_url,
                "timeout": self.timeout, "max_retries": self.max_retries, "default_headers": self.default_headers,
                "api_format": self.api_format, "limiter": self.limiter}

    @property
    def client(self) -> A2AgentClient:
        if self._client is None:
            self._client = A2AgentClient(**self._client_kwargs(), http_client=self.http_client)
        return self._client

    @property
    def async_client(self) -> AsyncA2AgentClient:
        if self._async_client is None:
            self._async_client = AsyncA2AgentClient(**self._client_kwargs(), http_client=self.http_async_client)
        return self._async_client

    def limiter_stats(self) -> LimiterStats | None:
        """The key's rate-limiter state (shared by every client of this URL and key), None when off."""
        return self.client.limiter_stats()

    # -- LangChain plumbing --------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "a2agent-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "A2AGENT_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_a2agent", "chat_models"]

    @property
    def _default_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model_name}
        for name in ("temperature", "max_tokens", "top_p", "seed", "n", "logprobs", "top_logprobs",
                     "reasoning_effort"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.stop:
            params["stop"] = self.stop
        if self.thinking is not None:
            params["thinking"] = {"type": "enabled" if self.thinking else "disabled"}
        return {**params, **self.model_kwargs}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {**self._default_params, "api_format": self.api_format}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        # Read from fields and call kwargs directly: _get_invocation_params would dump the whole model
        # a second time per call.
        ls = {"ls_provider": PROVIDER, "ls_model_name": kwargs.get("model", self.model_name),
              "ls_model_type": "chat", "ls_temperature": kwargs.get("temperature", self.temperature)}
        if (max_tokens := kwargs.get("max_tokens", self.max_tokens)) is not None:
            ls["ls_max_tokens"] = max_tokens
        if ls_stop := stop or kwargs.get("stop") or self.stop:
            ls["ls_stop"] = ls_stop if isinstance(ls_stop, list) else [ls_stop]
        return ls

    def _payload(self, messages: Sequence[BaseMessage], stop: list[str] | None, stream: bool,
                 **kwargs: Any) -> dict[str, Any]:
        kwargs.pop("ls_structured_output_format", None)
        stream_usage = kwargs.pop("stream_usage", self.stream_usage)
        payload = self._default_params
        if stop is not None:
            payload["stop"] = stop
        payload.update(kwargs)
        if self.extra_body:
            payload.update(self.extra_body)
        if stream and stream_usage:
            payload["stream_options"] = {"include_usage": True}
        payload["messages"] = reasoning_for_request(messages_to_dicts(messages), payload["model"])
        return relax_forced_tool_choice(payload)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        if self.streaming and not (self.n and self.n > 1):
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        with LANGCHAIN_ERRORS:
            response = self.client.chat_completions(self._payload(messages, stop, False, **kwargs))
        return completion_to_result(response)

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        if self.streaming and not (self.n and self.n > 1):
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        with LANGCHAIN_ERRORS:
            response = await self.async_client.chat_completions(self._payload(messages, stop, False, **kwargs))
        return completion_to_result(response)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        payload = self._payload(messages, stop, True, **kwargs)
        blocks = BlockIndexer(v1=self.output_version == "v1")
        with LANGCHAIN_ERRORS, self.client.stream_chat_completions(payload, accumulate=False) as stream:
            for chunk in stream:
                generation = chunk_to_generation(chunk, blocks)
                if generation is None:
                    continue
                if run_manager:
                    run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        payload = self._payload(messages, stop, True, **kwargs)
        blocks = BlockIndexer(v1=self.output_version == "v1")
        with LANGCHAIN_ERRORS:
            async with self.async_client.stream_chat_completions(payload, accumulate=False) as stream:
                async for chunk in stream:
                    generation = chunk_to_generation(chunk, blocks)
                    if generation is None:
                        continue
                    if run_manager:
                        await run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        totals: dict[str, int] = {}
        model_name = None
        for output in llm_outputs:
            if not output:
                continue
            model_name = model_name or output.get("model_name")
            for key, value in (output.get("token_usage") or {}).items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
        return {"token_usage": totals, "model_name": model_name or self.model_name}

    # -- models --------------------------------------------------------------------------------
    def list_models(self) -> list[Model]:
        """Models the gateway serves for this key (``GET /v1/models``)."""
        with LANGCHAIN_ERRORS:
            models = self.client.list_models()
        return models

    async def alist_models(self) -> list[Model]:
        with LANGCHAIN_ERRORS:
            models = await self.async_client.list_models()
        return models

    # -- token counting (offline: the core's counter, the emulator's usage uses the same) -------
    def get_num_tokens_from_messages(
        self,
        messages: list[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
        *,
        strict: bool | None = None,
    ) -> int:
        """Prompt tokens of ``messages`` (and ``tools``) as the backend bills them: exact text for
        DeepSeek and Qwen with the ``[tokenizers]`` extra, else approximate (``a2agent.token_counter``).
        The tools are formatted as ``bind_tools(tools, strict=strict)`` sends them, and the messages
        counted as ``api_format`` carries them. What ``trim_messages(..., token_counter=llm)`` calls.
        Bad input is an ``InvalidInputError`` naming it."""
        if tools is not None and (isinstance(tools, str | dict) or not isinstance(tools, Sequence)):
            raise InvalidInputError(f"tools must be a list of tools, got {type(tools).__name__}")
        payload = {"messages": reasoning_for_request(messages_to_dicts(messages), self.model_name),
                   "tools": [_format_tool(tool, strict, i) for i, tool in enumerate(tools or [])]}
        return token_counter(self.model_name).count_request(payload, api_format=self.api_format)

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text`` (a ``str``; anything else is an ``InvalidInputError``)."""
        return token_counter(self.model_name).count_text(text)

    def get_token_ids(self, text: str) -> list[int]:
        """The model's token ids (placeholders of the right count when the count is approximate)."""
        return token_counter(self.model_name).encode(text)

    # -- tools and structured output -----------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (dicts, pydantic models, TypedDicts, functions, BaseTools).

        ``tool_choice``: "auto" | "none" | "required" | "any" (= required) | a tool name | True
        (the single bound tool) | an OpenAI tool_choice dict.
        """
        formatted = [_format_tool(tool, strict, i) for i, tool in enumerate(tools)]
        names = [t["function"]["name"] for t in formatted]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _tool_choice(tool_choice, names)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Structured output via tool calling (default: every A2Agent model supports it),
        ``json_schema`` (``response_format`` with the schema) or ``json_mode`` (JSON object)."""
        if kwargs:
            raise InvalidInputError(f"Unsupported arguments for with_structured_output: {sorted(kwargs)}")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        if method != "json_mode" and schema is None:
            raise InvalidInputError(f"schema is required for method={method!r}")
        if method == "json_mode" and strict is not None:
            raise InvalidInputError("strict does not apply to method='json_mode' (a JSON object, no schema): "
                                    "use method='json_schema' with strict=True")
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        parser: Runnable[Any, Any]
        llm: Runnable[LanguageModelInput, Any]
        if method == "function_calling":
            assert schema is not None
            name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=name, strict=strict, parallel_tool_calls=False,
                                  ls_structured_output_format=ls_format)
            parser = (PydanticToolsParser(tools=[schema], first_tool_only=True) if is_pydantic  # type: ignore[list-item]
                      else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True))
        elif method == "json_schema":
            assert schema is not None
            llm = self.bind(response_format=_json_schema_format(schema, strict),
                            ls_structured_output_format=ls_format)
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()  # type: ignore[arg-type]
        elif method == "json_mode":
            llm = self.bind(response_format={"type": "json_object"}, ls_structured_output_format=ls_format)
            parser = PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()  # type: ignore[arg-type]
        else:
            raise InvalidInputError(f"method must be function_calling, json_schema or json_mode, got {method!r}")
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks([fallback], exception_key="parsing_error")


def _known_arguments(cls: type[BaseModel]) -> set[str]:
    """Every name the constructor accepts: field names and their aliases."""
    names = set(cls.model_fields)
    names.update(f.alias for f in cls.model_fields.values() if f.alias)
    return names


def _format_tool(tool: Any, strict: bool | None, index: int) -> dict[str, Any]:
    """One bound tool in the wire's shape; anything LangChain cannot convert, or a tool without a
    name, is an InvalidInputError naming its position."""
    try:
        # strict: made strict by the core from the plain schema, which still says what is optional
        formatted = (_strict_tool(convert_to_openai_tool(tool)) if strict
                     else convert_to_openai_tool(tool, strict=strict))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(f"tools[{index}] is not a valid tool ({type(exc).__name__}: {exc})") from None
    function = formatted.get("function") if isinstance(formatted, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise InvalidInputError(f"tools[{index}] has no function name")
    return formatted


def _tool_choice(choice: dict[str, Any] | str | bool, names: list[str]) -> dict[str, Any] | str:
    if choice is True:  # LangChain's "the single bound tool"
        if len(names) != 1:
            raise InvalidInputError(f"tool_choice=True needs exactly one tool, got {len(names)}")
        choice = names[0]
    if isinstance(choice, bool):
        raise InvalidInputError(f"Unsupported tool_choice {choice!r}")
    return normalize_tool_choice(choice, names)


def _strict_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return {**tool, "function": {**function, "parameters": to_strict_json_schema(parameters), "strict": True}}


def _json_schema_format(schema: dict[str, Any] | type, strict: bool | None) -> dict[str, Any]:
    """``response_format`` for method="json_schema": a pydantic model or TypedDict becomes its JSON
    schema; dicts (a JSON schema, a json_schema spec, or a ready-made response format) go to the
    core's strict-aware helper as they are."""
    json_schema = schema if isinstance(schema, dict) else convert_to_json_schema(schema)
    return json_schema_response_format(json_schema, strict=strict)
