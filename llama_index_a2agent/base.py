"""``A2AgentLLM``: the LlamaIndex LLM for the A2Agent gateway, a thin layer over the core."""

from __future__ import annotations

import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr, ValidationError
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]  # the public path
from llama_index.core.instrumentation.events.llm import LLMStructuredPredictEndEvent, LLMStructuredPredictStartEvent
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode

from a2agent import A2AgentClient, AsyncA2AgentClient, InvalidInputError, LimiterStats, get_model_profile, token_counter
from a2agent.integration import (
    PARAMETER_DOCS,
    check_sampling,
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
from a2agent.types import Model as WireModel

from ._convert import StreamState, completion_to_response, messages_to_dicts

if TYPE_CHECKING:
    from llama_index.core.program.function_program import FunctionCallingProgram
    from llama_index.core.tools.types import BaseTool

__all__ = ["A2AgentLLM"]

dispatcher = get_dispatcher(__name__)

DEFAULT_MODEL = "deepseek-chat"


class A2AgentLLM(FunctionCallingLLM):
    """LlamaIndex LLM for the A2Agent gateway: DeepSeek, GLM, Kimi, MiniMax and Qwen models behind one key.

    Setup: ``pip install "a2agent[llama-index]"``, then ``export A2AGENT_API_KEY="..."``. Without a
    key, ``python -m a2agent.emulator`` serves a local emulator (it prints the two variables to set).

    ```python
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.a2agent import A2AgentLLM  # also: from llama_index_a2agent import A2AgentLLM

    llm = A2AgentLLM(model="glm-5", temperature=0.2)  # key from A2AGENT_API_KEY
    print(llm.complete("Hello"))
    for r in llm.stream_chat([ChatMessage(role="user", content="Tell me a story")]):
        print(r.delta, end="")
    ```

    Key arguments: ``model``, ``api_key``, ``api_base``, ``api_format`` (``"openai"`` or
    ``"anthropic"``), sampling (``temperature``, ``max_tokens``, ``top_p``, ``stop``, ``seed``),
    reasoning (``thinking``, ``reasoning_effort``), ``timeout`` (seconds), ``max_retries``,
    ``strict`` and ``structured_output_method`` for tools and structured output. Other keyword
    arguments are request parameters: they go to ``additional_kwargs`` with a warning; a near miss
    of a declared name (``temprature``) is an error.

    ``metadata.context_window``/``num_output`` come from the model catalogue (override with
    ``context_window=``/``num_output=``). Reasoning arrives as a ``ThinkingBlock`` (and
    ``additional_kwargs["thinking_delta"]`` while streaming) and is sent back within the current tool
    loop. A tool-result message marks a failed tool with ``additional_kwargs["is_error"] = True``
    (``ToolOutput.is_error``); the Anthropic format sends it as ``is_error``. Usage reaches
    ``TokenCountingHandler`` (streams too); offline, ``llm.tokenizer`` and ``llm.count_tokens(messages)``
    count as the backend bills (``a2agent.token_counter``). Errors are the core's typed errors
    (``a2agent.RateLimitError``, ...); bad arguments raise ``a2agent.InvalidInputError`` at construction.
    """

    model: str = Field(default=DEFAULT_MODEL, description="A2Agent model id, e.g. deepseek-chat, glm-5, kimi-k2.5, "
                                                          "qwen3.7-max (a2agent.MODEL_PROFILES lists them).")
    api_key: SecretStr | None = Field(default=None, exclude=True,
                                      description="API key; A2AGENT_API_KEY when not given. Never serialized.")
    api_base: str | None = Field(default=None, description="Gateway URL; A2AGENT_BASE_URL or "
                                                           "https://api.a2agent.me/v1.")
    api_format: Literal["openai", "anthropic"] = Field(
        default="openai", description="Wire format: 'openai' (chat completions) or 'anthropic' (Messages).")
    temperature: float | None = Field(default=None, description=PARAMETER_DOCS["temperature"])
    max_tokens: int | None = Field(default=None, description="Most tokens to generate; the model's own maximum "
                                                             "when not set.")
    top_p: float | None = Field(default=None, description=PARAMETER_DOCS["top_p"])
    stop: list[str] | None = Field(default=None, description="Stop sequences.")
    seed: int | None = Field(default=None, description=PARAMETER_DOCS["seed"])
    logprobs: bool | None = Field(default=None, description=PARAMETER_DOCS["logprobs"])
    top_logprobs: int | None = Field(default=None, description=PARAMETER_DOCS["top_logprobs"])
    reasoning_effort: str | None = Field(default=None, description=PARAMETER_DOCS["reasoning_effort"])
    thinking: bool | None = Field(default=None, description=PARAMETER_DOCS["thinking"])
    strict: bool = Field(default=False, description="Send strict-valid tool and json_schema schemas.")
    structured_output_method: Literal["function_calling", "json_schema"] = Field(
        default="function_calling", description="How structured_predict asks for structure: tool calling, or "
                                                "response_format json_schema (OpenAI format).")
    timeout: float | None = Field(default=None, description="Seconds to wait for the server: default 600 s to "
                                                            "read, at most 10 s to connect.")
    max_retries: int = Field(default=2, description=PARAMETER_DOCS["max_retries"])
    default_headers: dict[str, str] | None = Field(default=None, description=PARAMETER_DOCS["default_headers"])
    additional_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra request body fields.")
    stream_usage: bool = Field(default=True, description="Ask for usage at the end of streams.")
    context_window: int | None = Field(default=None, gt=0, description="Override the catalogue value.")
    num_output: int | None = Field(default=None, gt=0, description="Override the catalogue value.")
    is_function_calling: bool | None = Field(default=None, description="Override the catalogue value.")
    limiter: Any = Field(default=None, exclude=True, repr=False, description=(  # a Redis password
        "Per-key rate limiter: None (on, defaults), False (off), a2agent.LimiterSettings or a dict; "
        "its state: llm.limiter_stats()."))

    _client: A2AgentClient = PrivateAttr()
    _aclient: AsyncA2AgentClient = PrivateAttr()

    def __init__(self, model: str = DEFAULT_MODEL, api_key: str | SecretStr | None = None,
                 http_client: Any = None, async_http_client: Any = None, **kwargs: Any) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        known = set(type(self).model_fields) | {"callback_manager", "system_prompt", "messages_to_prompt",
                                                 "completion_to_prompt", "output_parser", "pydantic_program_mode"}
        kwargs = split_unknown_arguments("A2AgentLLM", kwargs, known, "additional_kwargs")
        error = None
        try:
            super().__init__(model=model, api_key=SecretStr(key) if isinstance(key, str) and key else None,
                             **kwargs)
        except ValidationError as exc:  # a typed error naming the field, never pydantic's (nor the value)
            error = invalid_input("A2AgentLLM", exc)
        if error is not None:
            raise error  # outside the except: the ValidationError (which shows values) is not chained
        # Ranges through the core's validators, as every a2agent client checks them.
        check_sampling({"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p,
                        "top_logprobs": self.top_logprobs, "seed": self.seed, "stop": self.stop}, "A2AgentLLM")
        self._connect(key, http_client, async_http_client)
        profile = get_model_profile(self.model)
        if not profile.known and self.context_window is None:
            warnings.warn(f"Model {self.model!r} is not in the a2agent catalogue: assuming a "
                          f"{profile.context_window}-token context window; pass context_window= to set it.",
                          stacklevel=2)

    def _connect(self, key: str | None, http_client: Any = None, async_http_client: Any = None) -> None:
        common: dict[str, Any] = {"api_key": key, "base_url": self.api_base, "timeout": self.timeout,
                                  "max_retries": self.max_retries, "default_headers": self.default_headers,
                                  "api_format": self.api_format, "limiter": self.limiter}
        # The core resolves A2AGENT_API_KEY / A2AGENT_BASE_URL and raises InvalidInputError without a key.
        self._client = A2AgentClient(**common, http_client=http_client)
        self._aclient = AsyncA2AgentClient(**common, http_client=async_http_client)
        self.api_base = self._client.base_url

    # Pickled without the key and the clients (the key never travels in a pickle): the receiving
    # process builds its clients with the key from A2AGENT_API_KEY (InvalidInputError without one).
    def __getstate__(self) -> dict[Any, Any]:
        clone = self.model_copy()  # without its clients, so LlamaIndex's filter has none to warn about
        object.__setattr__(clone, "__pydantic_private__", None)
        return state_without_secrets(super(A2AgentLLM, clone).__getstate__(), ())

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._connect(None)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # The copy shares the live clients (locks, pools), which cannot be copied; fields are copied.
        return super().__deepcopy__(memo_sharing(self, memo))

    @classmethod
    def class_name(cls) -> str:
        return "A2AgentLLM"

    def limiter_stats(self) -> LimiterStats | None:
        """The key's rate-limiter state (shared by every client of this URL and key), None when off."""
        return self._client.limiter_stats()

    @property
    def metadata(self) -> LLMMetadata:
        profile = get_model_profile(self.model)
        return LLMMetadata(
            context_window=self.context_window or profile.context_window,
            num_output=self.num_output or self.max_tokens or profile.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=profile.tools if self.is_function_calling is None else self.is_function_calling,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    # -- token counting (offline: the core's counter, the emulator's usage uses the same) -------
    @property
    def tokenizer(self) -> Callable[[str], list[int]]:
        """This model's tokenizer, ``str -> list`` of token ids, for ``Settings.tokenizer``,
        ``TokenCountingHandler(tokenizer=...)`` and ``ChatMemoryBuffer.from_defaults(tokenizer_fn=...)``:
        exact for DeepSeek and Qwen with the ``[tokenizers]`` extra, else a list of placeholder ids
        of the approximate length (``a2agent.token_counter``)."""
        return token_counter(self.model).encode

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[BaseTool] | None = None, *,
                     strict: bool | None = None) -> int:
        """Prompt tokens of a chat request (messages and tool schemas) as the backend bills them: the
        tools formatted as ``chat_with_tools(tools, strict=strict)`` sends them (``strict`` defaults
        to the field), the messages as ``api_format`` carries them. Bad input is an
        ``InvalidInputError`` naming it."""
        payload = {"messages": reasoning_for_request(messages_to_dicts(messages), self.model),
                   "tools": self._tool_specs(tools or [], strict)}
        return token_counter(self.model).count_request(payload, api_format=self.api_format)

    # -- request -------------------------------------------------------------------------------
    def _payload(self, messages: Sequence[ChatMessage], stream: bool, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model}
        for name in ("temperature", "max_tokens", "top_p", "stop", "seed", "logprobs", "top_logprobs",
                     "reasoning_effort"):
            value = getattr(self, name)
            if value is not None:
                payload[name] = value
        if self.thinking is not None:
            payload["thinking"] = {"type": "enabled" if self.thinking else "disabled"}
        payload.update(self.additional_kwargs)
        payload.update({k: v for k, v in kwargs.items() if v is not None})
        if stream and self.stream_usage:
            payload["stream_options"] = {"include_usage": True}
        payload["messages"] = reasoning_for_request(messages_to_dicts(messages), payload["model"])
        return relax_forced_tool_choice(payload)

    # -- chat ----------------------------------------------------------------------------------
    # Decorated entry points over undecorated internals: complete() must fire the completion
    # callbacks only, not the chat ones too (token counters would count it twice).
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return completion_to_response(self._client.chat_completions(self._payload(messages, False, **kwargs)))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        response = await self._aclient.chat_completions(self._payload(messages, False, **kwargs))
        return completion_to_response(response)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        payload = self._payload(messages, True, **kwargs)

        def gen() -> Generator[ChatResponse, None, None]:
            state = StreamState()
            with self._client.stream_chat_completions(payload, accumulate=False) as stream:
                for chunk in stream:
                    if (response := state.response(chunk)) is not None:
                        yield response

        return gen()

    async def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        payload = self._payload(messages, True, **kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            state = StreamState()
            async with self._aclient.stream_chat_completions(payload, accumulate=False) as stream:
                async for chunk in stream:
                    if (response := state.response(chunk)) is not None:
                        yield response

        return gen()

    # -- completion (derived from the undecorated chat internals) ------------------------------
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False,
                               **kwargs: Any) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # -- models --------------------------------------------------------------------------------
    def list_models(self) -> list[WireModel]:
        return self._client.list_models()

    async def alist_models(self) -> list[WireModel]:
        return await self._aclient.list_models()

    # -- tools ---------------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        specs = self._tool_specs(tools, strict)
        messages = list(chat_history or [])  # never mutate the caller's history
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str)
                            else user_msg)
        result: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            names = [s["function"]["name"] for s in specs]
            result["tools"] = specs
            result["tool_choice"] = _tool_choice(tool_choice, tool_required, names)
            result["parallel_tool_calls"] = allow_parallel_tool_calls
        return result

    def _tool_specs(self, tools: Sequence[BaseTool], strict: bool | None) -> list[dict[str, Any]]:
        """The tools as the request carries them (strict-valid schemas when ``strict``, else the field)."""
        if isinstance(tools, str) or not isinstance(tools, Sequence):
            raise InvalidInputError(f"tools must be a list of LlamaIndex tools, got {type(tools).__name__}")
        specs = []
        for i, tool in enumerate(tools):
            if not callable(getattr(getattr(tool, "metadata", None), "to_openai_tool", None)):
                raise InvalidInputError(f"tools[{i}] must be a LlamaIndex tool (BaseTool), got {type(tool).__name__}")
            specs.append(tool.metadata.to_openai_tool(skip_length_check=True))
        if strict if strict is not None else self.strict:
            specs = [{**spec, "function": {**spec["function"], "strict": True, "parameters": to_strict_json_schema(
                spec["function"].get("parameters") or {"type": "object", "properties": {}})}} for spec in specs]
        return specs

    def _validate_chat_with_tools_response(self, response: ChatResponse, tools: Sequence[BaseTool],
                                           allow_parallel_tool_calls: bool = False, **kwargs: Any) -> ChatResponse:
        if not allow_parallel_tool_calls:
            _keep_first_tool_call(response)
        return response

    def get_tool_calls_from_response(self, response: ChatResponse, error_on_no_tool_call: bool = True,
                                     **kwargs: Any) -> list[ToolSelection]:
        blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not blocks and error_on_no_tool_call:
            raise InvalidInputError(f"Expected at least one tool call in the response, got none: "
                                    f"{response.message.content!r:.200}")
        return [ToolSelection(tool_id=b.tool_call_id or "", tool_name=b.tool_name, tool_kwargs=_parse_args(b))
                for b in blocks]

    # -- structured output ---------------------------------------------------------------------
    def _schema_kwargs(self, llm_kwargs: dict[str, Any] | None, output_cls: type[Model]) -> dict[str, Any]:
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k != "tool_choice"}
        kwargs["response_format"] = json_schema_response_format(output_cls.model_json_schema(), strict=self.strict,
                                                                name=output_cls.__name__)
        return kwargs

    def _json_schema_mode(self) -> bool:
        return (self.structured_output_method == "json_schema"
                and self.pydantic_program_mode == PydanticProgramMode.DEFAULT)

    def _tool_program_mode(self) -> bool:
        """LlamaIndex's structured programs go through tool calling (else: a prose/JSON prompt)."""
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT and self.metadata.is_function_calling_model

    def _tool_program(self, output_cls: type[Model], prompt: PromptTemplate) -> FunctionCallingProgram[Model] | None:
        """The streaming structured-output program, forcing the schema tool.

        LlamaIndex's ``FunctionCallingProgram.stream_call`` drops ``tool_choice`` from ``llm_kwargs``
        and sends the program's own (by default none, i.e. "auto"), so a model was free to answer
        in prose; the program gets "required" here, as ``structured_predict`` asks. None when the
        program mode is not the function-calling one (then LlamaIndex picks its own program)."""
        if not self._tool_program_mode():
            return None
        from llama_index.core.program.function_program import FunctionCallingProgram

        return FunctionCallingProgram.from_defaults(output_cls=output_cls, prompt=prompt, llm=self,
                                                    tool_choice="required")

    # Spans and structured-predict events: the overrides keep what the base class's entry points emit
    # (a span each; start/end events on the json_schema path, which bypasses the base), as
    # llama-index-llms-openai's overrides do.
    @dispatcher.span
    def structured_predict(self, output_cls: type[Model], prompt: PromptTemplate,
                           llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if self._json_schema_mode():
            dispatcher.event(LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt,
                                                            template_args=prompt_args))
            messages = self._extend_messages(prompt.format_messages(**prompt_args))
            response = self.chat(messages, **self._schema_kwargs(llm_kwargs, output_cls))
            output = output_cls.model_validate_json(response.message.content or "")
            dispatcher.event(LLMStructuredPredictEndEvent(output=output))
            return output
        # LlamaIndex's FunctionCallingProgram forces the schema tool itself (tool_required=True) and
        # drops any tool_choice in llm_kwargs; a text program (another pydantic_program_mode) binds
        # no tools, so no tool_choice may be added here (without tools it is a 400).
        result: Model = super().structured_predict(output_cls, prompt, llm_kwargs=llm_kwargs,
                                                   **prompt_args)
        return result

    @dispatcher.span
    async def astructured_predict(self, output_cls: type[Model], prompt: PromptTemplate,
                                  llm_kwargs: dict[str, Any] | None = None, **prompt_args: Any) -> Model:
        if self._json_schema_mode():
            dispatcher.event(LLMStructuredPredictStartEvent(output_cls=output_cls, template=prompt,
                                                            template_args=prompt_args))
            messages = self._extend_messages(prompt.format_messages(**prompt_args))
            response = await self.achat(messages, **self._schema_kwargs(llm_kwargs, output_cls))
            output = output_cls.model_validate_json(response.message.content or "")
            dispatcher.event(LLMStructuredPredictEndEvent(output=output))
            return output
        result: Model = await super().astructured_predict(output_cls, prompt, llm_kwargs=llm_kwargs,
                                                          **prompt_args)
        return result

    def _structured_stream_call(self, output_cls: type[Model], prompt: PromptTemplate,
                                llm_kwargs: dict[str, Any] | None = None,
                                **prompt_args: Any) -> Generator[Any, None, None]:
        if self._json_schema_mode():
            from llama_index.core.program.streaming_utils import process_streaming_content_incremental

            messages = self._extend_messages(prompt.format_messages(**prompt_args))
            current = None
            for response in self.stream_chat(messages, **self._schema_kwargs(llm_kwargs, output_cls)):
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current
            return
        program = self._tool_program(output_cls, prompt)
        if program is None:
            yield from super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
            return
        yield from program.stream_call(llm_kwargs=llm_kwargs, **prompt_args)

    async def _structured_astream_call(self, output_cls: type[Model], prompt: PromptTemplate,
                                       llm_kwargs: dict[str, Any] | None = None,
                                       **prompt_args: Any) -> AsyncGenerator[Any, None]:
        if not self._json_schema_mode():
            program = self._tool_program(output_cls, prompt)
            if program is None:
                return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)
            return await program.astream_call(llm_kwargs=llm_kwargs, **prompt_args)

        async def gen() -> AsyncGenerator[Any, None]:
            from llama_index.core.program.streaming_utils import process_streaming_content_incremental

            messages = self._extend_messages(prompt.format_messages(**prompt_args))
            current = None
            async for response in await self.astream_chat(messages, **self._schema_kwargs(llm_kwargs, output_cls)):
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()


def _tool_choice(choice: str | dict[str, Any] | None, required: bool, names: list[str]) -> str | dict[str, Any]:
    if choice is None:
        return "required" if required else "auto"
    return normalize_tool_choice(choice, names)


def _parse_args(block: ToolCallBlock) -> dict[str, Any]:
    """Tool arguments as a dict: complete JSON, or the parsable prefix of a partial stream."""
    args = block.tool_kwargs
    if isinstance(args, dict):
        return args
    try:
        parsed = parse_partial_json(args or "{}")
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _keep_first_tool_call(response: ChatResponse) -> None:
    seen = False
    blocks = []
    for block in response.message.blocks:
        if isinstance(block, ToolCallBlock):
            if seen:
                continue
            seen = True
        blocks.append(block)
    response.message.blocks = blocks
    calls = response.message.additional_kwargs.get("tool_calls")
    if calls:
        response.message.additional_kwargs["tool_calls"] = calls[:1]

