"""Wire types: the OpenAI chat-completions shape, the canonical in-memory format of the core.

TypedDicts rather than pydantic models so the hot path (one dict per streamed chunk) pays no
validation cost; ``total=False`` where the wire leaves fields out.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "Delta",
    "FunctionCall",
    "Model",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


class FunctionCall(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(TypedDict, total=False):
    role: str
    content: Any  # str, list of content parts, or None
    name: str
    tool_calls: list[ToolCall]
    tool_call_id: str
    reasoning_content: str | None
    reasoning_signature: str  # Anthropic format only: the thinking block's signature


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int


class CompletionTokensDetails(TypedDict, total=False):
    reasoning_tokens: int


class Usage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None
    completion_tokens_details: CompletionTokensDetails | None
    prompt_cache_hit_tokens: int
    prompt_cache_miss_tokens: int


class Choice(TypedDict, total=False):
    index: int
    message: ChatMessage
    finish_reason: str | None
    logprobs: dict[str, Any] | None


class ChatCompletion(TypedDict, total=False):
    id: str
    object: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None
    system_fingerprint: str | None


class FunctionCallDelta(TypedDict, total=False):
    name: str | None
    arguments: str | None


class ToolCallDelta(TypedDict, total=False):
    index: int
    id: str | None
    type: str | None
    function: FunctionCallDelta | None


class Delta(TypedDict, total=False):
    role: str | None
    content: str | None
    reasoning_content: str | None
    reasoning_signature: str | None
    tool_calls: list[ToolCallDelta] | None


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: Delta
    finish_reason: str | None
    logprobs: dict[str, Any] | None


class ChatCompletionChunk(TypedDict, total=False):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None
    system_fingerprint: str | None


class Model(TypedDict, total=False):
    id: str
    object: str
    created: int
    owned_by: str
