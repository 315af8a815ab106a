"""Wire codecs: translate the canonical (OpenAI chat-completions) payload to a wire format and back.

A codec is picked once per client (``api_format``). Its ``decode_event`` turns one SSE event into a
canonical chunk dict, ``None`` (nothing for the caller: ping, bookkeeping) or ``DONE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._errors import InvalidInputError, StreamError
from ._messages import strip_internal_keys
from ._sse import ServerSentEvent, decode_openai_event
from .types import ChatCompletion

__all__ = ["API_FORMATS", "Codec", "OpenAICodec", "get_codec", "validate_chat_payload"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class Codec(Protocol):
    name: str
    chat_path: str
    headers: Mapping[str, str]

    def encode_request(self, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]: ...

    def decode_response(self, body: Any) -> ChatCompletion: ...

    def event_decoder(self) -> Callable[[ServerSentEvent], Any]: ...


def validate_chat_payload(payload: Any) -> None:
    """Raise ``InvalidInputError`` naming the first thing wrong with a canonical request."""
    if not isinstance(payload, Mapping):
        raise InvalidInputError(f"payload must be a mapping, got {type(payload).__name__}")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"payload['model'] must be a non-empty string, got {model!r}")
    messages = payload.get("messages")
    if not isinstance(messages, list | tuple) or not messages:
        raise InvalidInputError("payload['messages'] must be a non-empty list of message dicts")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidInputError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidInputError(f"messages[{i}].role must be one of {sorted(_ROLES)}, got {role!r}")


class OpenAICodec:
    name = "openai"
    chat_path = "/chat/completions"
    headers: Mapping[str, str] = {}

    def encode_request(self, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
        body = dict(payload)
        if "messages" in body:  # keys only other codecs read (signatures, tool error flags) stay home
            body["messages"] = strip_internal_keys(body["messages"])
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return body

    def decode_response(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            raise StreamError(f"Unexpected chat completion response: {str(body)[:200]!r}", body=body)
        return body  # type: ignore[return-value]

    def event_decoder(self) -> Callable[[ServerSentEvent], Any]:
        return decode_openai_event


API_FORMATS = ("openai", "anthropic")


def get_codec(api_format: str) -> Codec:
    if api_format == "openai":
        return OpenAICodec()
    if api_format == "anthropic":
        from ._anthropic import AnthropicCodec

        return AnthropicCodec()
    raise InvalidInputError(f"api_format must be one of {API_FORMATS}, got {api_format!r}")



