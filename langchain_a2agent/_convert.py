"""Pure mapping between LangChain messages/chunks and the core's canonical (OpenAI-shape) dicts.

Inputs are never mutated. Unknown message or content-block types raise ``InvalidInputError``
naming the offender. Streaming and non-streaming share the same helpers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from a2agent import InvalidInputError
from a2agent.integration import TOOL_ERROR_KEY, plain_text, split_tool_attachments, token_details

PROVIDER = "a2agent"
_DATA_BLOCKS = frozenset({"image", "audio", "file"})
_SKIPPED_IN_AI_CONTENT = frozenset({"reasoning", "thinking", "tool_call", "tool_use", "tool_call_chunk",
                                    "invalid_tool_call", "server_tool_call", "server_tool_result"})


# -- requests ------------------------------------------------------------------------------------

def _content_part(part: Any, where: str) -> dict[str, Any]:
    """One LangChain content block (v0, v1 standard, OpenAI or Anthropic shaped) -> an OpenAI part."""
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        raise InvalidInputError(f"{where}: content blocks must be str or dict, got {type(part).__name__}")
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        return {"type": "image_url", "image_url": {"url": image} if isinstance(image, str) else dict(image or {})}
    if kind in ("input_audio", "file") and (kind in part):
        return {"type": kind, kind: dict(part[kind])}
    if kind == "image" and isinstance(part.get("source"), Mapping):  # Anthropic-shaped image
        source = part["source"]
        url = source.get("url") or f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind in _DATA_BLOCKS:
        try:
            return dict(convert_to_openai_data_block(dict(part)))
        except (ValueError, KeyError) as exc:
            raise InvalidInputError(f"{where}: unsupported {kind} block: {exc}") from exc
    raise InvalidInputError(f"{where}: unsupported content block type {kind!r}")


def _user_content(content: str | list[Any], where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [_content_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)]


def _text_only(content: str | list[Any], where: str, skip: frozenset[str] = frozenset()) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for i, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") == "text":
            text = part.get("text", "")
            if not isinstance(text, str):
                raise InvalidInputError(f"{where}.content[{i}].text must be a string, got "
                                        f"{'None' if text is None else type(text).__name__}")
            texts.append(text)
        elif not (isinstance(part, Mapping) and part.get("type") in skip):
            raise InvalidInputError(f"{where}.content[{i}]: only text can go here, got {part!r:.80}")
    return "".join(texts)


def _reasoning_of(message: AIMessage) -> tuple[str | None, str | None]:
    """(reasoning text, Anthropic signature) from additional_kwargs or reasoning/thinking blocks."""
    reasoning = message.additional_kwargs.get("reasoning_content")
    signature = message.additional_kwargs.get("reasoning_signature")
    if isinstance(reasoning, str):
        return reasoning, signature
    if isinstance(message.content, list):
        blocks = [b for b in message.content if isinstance(b, Mapping) and b.get("type") in ("reasoning", "thinking")]
        text = "".join(str(b.get("reasoning") or b.get("thinking") or "") for b in blocks)
        if text:
            return text, signature or "".join(str(b.get("signature") or "") for b in blocks) or None
    return None, None


def _ai_message(message: AIMessage, where: str) -> dict[str, Any]:
    text = _text_only(message.content, where, _SKIPPED_IN_AI_CONTENT)
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls: list[dict[str, Any]] = [{"id": c["id"], "type": "function",
              "function": {"name": c["name"], "arguments": _json_arguments(c["args"], f"{where}.tool_calls[{k}]")}}
             for k, c in enumerate(message.tool_calls)]
    calls += [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["args"] or ""}}
              for c in message.invalid_tool_calls]
    if calls:
        out["tool_calls"] = calls
    elif out["content"] is None:
        out["content"] = ""
    reasoning, signature = _reasoning_of(message)
    if reasoning:
        # Thinking mode needs it back in the current tool loop; reasoning_for_request drops the rest.
        out["reasoning_content"] = reasoning
        if signature:
            out["reasoning_signature"] = signature  # the Anthropic format verifies it
    if message.name:
        out["name"] = message.name
    return out


def _json_arguments(args: Any, where: str) -> str:
    try:
        return json.dumps(args, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{where}.args is not JSON-serializable ({exc})") from None


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages -> canonical request messages (tool attachments moved by the core)."""
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of LangChain messages, got "
                                f"{'None' if messages is None else type(messages).__name__}")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if isinstance(message, ToolMessage):
            tool: dict[str, Any] = {"role": "tool", "tool_call_id": message.tool_call_id,
                                    "content": _tool_content(message, where)}
            if message.status == "error":
                tool[TOOL_ERROR_KEY] = True  # the Anthropic codec sends it as is_error
            out.append(tool)
        elif isinstance(message, HumanMessage):
            out.append(_named({"role": "user", "content": _user_content(message.content, where)}, message))
        elif isinstance(message, AIMessage):
            out.append(_ai_message(message, where))
        elif isinstance(message, SystemMessage):
            role = "developer" if message.additional_kwargs.get("__openai_role__") == "developer" else "system"
            out.append(_named({"role": role, "content": _text_only(message.content, where)}, message))
        elif isinstance(message, ChatMessage):
            role = {"human": "user", "ai": "assistant"}.get(message.role, message.role)
            out.append({"role": role, "content": _user_content(message.content, where)})
        elif isinstance(message, FunctionMessage):
            out.append({"role": "function", "name": message.name, "content": _text_only(message.content, where)})
        else:
            raise InvalidInputError(f"{where}: unsupported message type {type(message).__name__}")
    return split_tool_attachments(out)


def _named(out: dict[str, Any], message: BaseMessage) -> dict[str, Any]:
    if message.name:
        out["name"] = message.name
    return out


def _tool_content(message: ToolMessage, where: str) -> str | list[dict[str, Any]]:
    error = message.status == "error"
    if isinstance(message.content, str):
        return f"Error: {message.content}" if error and not message.content.lower().startswith("error") \
            else message.content
    parts = [_content_part(p, f"{where}.content[{j}]") for j, p in enumerate(message.content)]
    if error:
        parts.insert(0, {"type": "text", "text": "Error: "})
    return parts


# -- responses -----------------------------------------------------------------------------------

def usage_to_metadata(usage: Mapping[str, Any] | None) -> UsageMetadata | None:
    if not usage:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    meta = UsageMetadata(input_tokens=prompt, output_tokens=completion,
                         total_tokens=int(usage.get("total_tokens") or prompt + completion))
    cached, reasoning = token_details(usage)
    if cached is not None:
        meta["input_token_details"] = InputTokenDetails(cache_read=cached)
    if reasoning is not None:
        meta["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return meta


def _response_metadata(response: Mapping[str, Any], choice: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"model_name": response.get("model"), "model_provider": PROVIDER}
    for key in ("id", "system_fingerprint"):
        if response.get(key):
            meta[key] = response[key]
    if choice.get("finish_reason"):
        meta["finish_reason"] = choice["finish_reason"]
    if choice.get("logprobs"):
        meta["logprobs"] = choice["logprobs"]
    return meta


def message_from_dict(message: Mapping[str, Any], response: Mapping[str, Any],
                      choice: Mapping[str, Any]) -> AIMessage:
    """A canonical assistant message -> ``AIMessage`` (v1 content blocks are derived by langchain-core
    from ``additional_kwargs["reasoning_content"]`` and the tool calls when output_version="v1")."""
    tool_calls, invalid = [], []
    for raw in message.get("tool_calls") or ():
        try:
            parsed = parse_tool_call(dict(raw), return_id=True)
            if parsed is not None:
                tool_calls.append(parsed)
        except Exception as exc:  # OutputParserException: arguments that are not JSON
            invalid.append(make_invalid_tool_call(dict(raw), str(exc)))
    additional: dict[str, Any] = {}
    for key in ("reasoning_content", "reasoning_signature"):
        if message.get(key):
            additional[key] = message[key]
    text = message.get("content") or ""
    return AIMessage(content=text, additional_kwargs=additional, tool_calls=tool_calls, invalid_tool_calls=invalid,
                     response_metadata=_response_metadata(response, choice), id=response.get("id") or None,
                     usage_metadata=usage_to_metadata(response.get("usage")))


def completion_to_result(response: Mapping[str, Any]) -> ChatResult:
    generations = []
    for choice in response.get("choices") or ():
        message = message_from_dict(choice.get("message") or {}, response, choice)
        info = {"finish_reason": choice.get("finish_reason")}
        if choice.get("logprobs"):
            info["logprobs"] = choice["logprobs"]
        generations.append(ChatGeneration(message=message, generation_info=info))
    llm_output = {"token_usage": response.get("usage"), "model_name": response.get("model"),
                  "system_fingerprint": response.get("system_fingerprint"), "id": response.get("id")}
    return ChatResult(generations=generations, llm_output=llm_output)


class BlockIndexer:
    """Content-block positions within one stream, in the order the non-streamed message has them.

    A new block starts whenever the kind changes (reasoning, text, each tool call); every fragment
    of one tool call keeps its block. Tool-call chunks carry that position as their ``index`` (as
    langchain-anthropic does with content-block indices), so they can never merge into the
    reasoning or text block of the same position when output_version="v1" sums chunks.
    """

    __slots__ = ("current", "kind", "tools", "v1")

    def __init__(self, v1: bool = False) -> None:
        self.v1 = v1
        self.current = -1
        self.kind: object = None
        self.tools: dict[int, int] = {}

    def at(self, kind: str) -> int:
        if kind != self.kind:
            self.kind = kind
            self.current += 1
        return self.current

    def tool(self, index: int) -> int:
        position = self.tools.get(index)
        if position is None:
            self.current += 1
            position = self.tools[index] = self.current
        self.kind = ("tool", index)
        return position


class _WireIndices(BlockIndexer):
    def at(self, kind: str) -> int:
        return 0

    def tool(self, index: int) -> int:
        return index


_WIRE_INDICES = _WireIndices()
_NO_DELTA: Mapping[str, Any] = {}


# Speed: a text chunk is a copy of two validated templates, not two constructor calls. Pydantic
# validation of AIMessageChunk and ChatGenerationChunk (its ``text`` validator included) costs
# 6.3 µs per chunk, the copies 3.4 µs (measured: ~5 ms of the 2000-chunk bench stream, the
# difference between 1.05-1.11x and ~0.9x of raw httpx + LangChain's floor). The copy is what
# ``model_copy(update=)`` does (``__copy__``, then the fields into ``__dict__``) minus its marking
# every updated field as set: the copies carry the constructors' ``model_fields_set`` (and 0.5 KB
# less per chunk than model_copy's, which matters for 1000 concurrent streams). Nothing is
# validated, so only a str text and a str or absent id come here, and every mutable field gets a
# fresh object (the copy is shallow). ``_COPY_MATCHES`` checks once, at import, that a copy equals
# the constructors' result (values and set fields); if a LangChain or pydantic release ever makes
# them differ, every chunk takes the constructors again. tests/langchain/test_convert.py also
# checks that no mutable field is shared, so a field LangChain adds later shows there.
_TEXT_MESSAGE = AIMessageChunk(content="")
_TEXT_GENERATION = ChatGenerationChunk(message=_TEXT_MESSAGE)


def _constructed_text_generation(text: Any, chunk_id: Any) -> ChatGenerationChunk:
    message = AIMessageChunk(content=text, id=chunk_id) if chunk_id is not None else AIMessageChunk(content=text)
    message.response_metadata["model_provider"] = PROVIDER
    return ChatGenerationChunk(message=message)


def _copied_text_generation(text: str, chunk_id: str | None) -> ChatGenerationChunk:
    message = _TEXT_MESSAGE.__copy__()
    message.__dict__.update(content=text, id=chunk_id, response_metadata={"model_provider": PROVIDER},
                            additional_kwargs={}, tool_calls=[], invalid_tool_calls=[], tool_call_chunks=[])
    if chunk_id is not None:
        message.__pydantic_fields_set__.add("id")  # as the constructor given an id marks it
    generation = _TEXT_GENERATION.__copy__()
    generation.__dict__.update(message=message, text=text)  # ``text``: what ChatGeneration's validator derives
    return generation


def _copy_matches() -> bool:
    for text, chunk_id in (("x", "id-1"), ("", None)):
        copied, built = _copied_text_generation(text, chunk_id), _constructed_text_generation(text, chunk_id)
        if copied != built or copied.model_fields_set != built.model_fields_set or \
                copied.message.model_fields_set != built.message.model_fields_set:
            return False
    return True


_COPY_MATCHES = _copy_matches()


def chunk_to_generation(chunk: Mapping[str, Any], blocks: BlockIndexer | None = None) -> ChatGenerationChunk | None:
    """One canonical stream chunk -> a LangChain generation chunk (None when it carries nothing).

    ``blocks`` (one per stream) numbers content blocks; with ``blocks.v1`` the chunk's content is
    already the v1 block list, every block with its index. Without it tool-call chunks keep the
    wire's tool-call index.
    """
    # Fast path for nearly every chunk of a stream: text (or the opening role) and nothing else.
    blocks = blocks or _WIRE_INDICES
    content = None if blocks.v1 else plain_text(chunk)
    if content is not None:
        if content and blocks.kind != "text":
            blocks.at("text")
        chunk_id = chunk.get("id") or None
        if _COPY_MATCHES and type(content) is str and (chunk_id is None or type(chunk_id) is str):
            return _copied_text_generation(content, chunk_id)
        return _constructed_text_generation(content, chunk_id)  # odd types: validated (or refused)
    choices = chunk.get("choices")
    if not choices:
        usage = usage_to_metadata(chunk.get("usage"))
        if usage is None:
            return None
        return ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage,
                                                          response_metadata={"model_provider": PROVIDER}))
    choice = choices[0]
    delta = choice.get("delta") or _NO_DELTA
    usage = usage_to_metadata(chunk.get("usage"))
    # Runs once per streamed chunk: pass only the fields this chunk has (each one costs validation).
    fields: dict[str, Any] = {"content": delta.get("content") or "", "response_metadata": {"model_provider": PROVIDER}}
    v1_content: list[dict[str, Any]] = []
    if delta.get("reasoning_content"):
        position = blocks.at("reasoning")
        if blocks.v1:
            v1_content.append({"type": "reasoning", "reasoning": delta["reasoning_content"], "index": position})
    if fields["content"]:
        position = blocks.at("text")
        if blocks.v1:
            v1_content.append({"type": "text", "text": fields["content"], "index": position})
    if chunk.get("id"):
        fields["id"] = chunk["id"]
    if usage is not None:
        fields["usage_metadata"] = usage
    additional = {k: delta[k] for k in ("reasoning_content", "reasoning_signature") if delta.get(k)}
    if additional:
        fields["additional_kwargs"] = additional
    if delta.get("tool_calls"):
        calls = fields["tool_call_chunks"] = [
            tool_call_chunk(name=(tc.get("function") or {}).get("name"),
                            args=(tc.get("function") or {}).get("arguments"), id=tc.get("id"),
                            index=blocks.tool(tc.get("index", position)))
            for position, tc in enumerate(delta["tool_calls"]) if tc]
        if blocks.v1:
            v1_content += [{"type": "tool_call_chunk", "id": c["id"], "name": c["name"], "args": c["args"],
                            "index": c["index"]} for c in calls]
    if blocks.v1:
        fields["content"] = v1_content
        fields["response_metadata"]["output_version"] = "v1"
    info: dict[str, Any] | None = None
    finish = choice.get("finish_reason")
    if finish:
        metadata = fields["response_metadata"]
        metadata.update(finish_reason=finish, model_name=chunk.get("model"))
        if chunk.get("system_fingerprint"):
            metadata["system_fingerprint"] = chunk["system_fingerprint"]
        info = {"finish_reason": finish}
    if choice.get("logprobs"):
        info = {**(info or {}), "logprobs": choice["logprobs"]}
    return ChatGenerationChunk(message=AIMessageChunk(**fields), generation_info=info)
