"""Model catalogue: the A2Agent model ids and their capability profiles.

``/v1/models`` only lists ids, so context windows and capabilities live here. Unknown ids get a
conservative profile with ``known=False`` (callers can warn) and every value can be overridden.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._errors import InvalidInputError

__all__ = ["MODEL_PROFILES", "ModelProfile", "get_model_profile"]


class ModelProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    owned_by: str
    context_window: int
    max_output_tokens: int
    tools: bool = True
    vision: bool = False
    # "always": emits reasoning_content by default; "optional": only with thinking enabled; "none".
    reasoning: str = "none"
    # False for backends that answer 400 when reasoning_content comes back in input (legacy reasoners).
    reasoning_input: bool = True
    # Native structured output: response_format json_schema / json_object. Only the OpenAI format has
    # response_format, so ``for_format("anthropic")`` turns both off.
    json_schema: bool = False
    json_mode: bool = True
    # False for backends that refuse a forced tool_choice (required / a named tool) in thinking mode
    # (Moonshot: 400 "tool_choice 'required' is incompatible with thinking enabled").
    forced_tool_choice_thinking: bool = True
    known: bool = True

    def for_format(self, api_format: str) -> ModelProfile:
        """What this model supports over one wire format (the Messages format has no response_format)."""
        limits = _FORMAT_LIMITS.get(api_format)
        if limits is None:
            raise InvalidInputError(f"api_format must be one of {sorted(_FORMAT_LIMITS)}, got {api_format!r}")
        changed = {k: v for k, v in limits.items() if getattr(self, k) != v}
        return self.model_copy(update=changed) if changed else self


_FORMAT_LIMITS: dict[str, dict[str, Any]] = {"openai": {}, "anthropic": {"json_schema": False, "json_mode": False}}


# Backends whose OpenAI-compatible API takes response_format json_schema (DeepSeek, GLM and Kimi
# document json_object only; Qwen and MiniMax document json_schema).
_JSON_SCHEMA_OWNERS = frozenset({"qwen", "minimax"})


# Backends that answer 400 for tool_choice required/named while thinking (Kimi; thinking is on by
# default for kimi-k2.5).
_NO_FORCED_TOOL_THINKING_OWNERS = frozenset({"moonshot"})


def _entry(id: str, owner: str, ctx: int, out: int, *, vision: bool = False, reasoning: str = "none") -> ModelProfile:
    """One catalogue entry: id, owner, context window, max output tokens."""
    return ModelProfile(id=id, owned_by=owner, context_window=ctx, max_output_tokens=out,
                        vision=vision, reasoning=reasoning, json_schema=owner in _JSON_SCHEMA_OWNERS,
                        forced_tool_choice_thinking=owner not in _NO_FORCED_TOOL_THINKING_OWNERS)


MODEL_PROFILES: dict[str, ModelProfile] = {
    p.id: p
    for p in (
        _entry("deepseek-chat", "deepseek", 131072, 8192, reasoning="optional"),
        _entry("deepseek-v4-flash", "deepseek", 131072, 32768, reasoning="optional"),
        _entry("deepseek-v4-pro", "deepseek", 131072, 65536, reasoning="always"),
        _entry("glm-4.6", "zhipu", 204800, 131072, reasoning="always"),
        _entry("glm-4.7", "zhipu", 204800, 131072, reasoning="always"),
        _entry("glm-5", "zhipu", 204800, 131072, reasoning="always"),
        _entry("glm-5-turbo", "zhipu", 204800, 131072, reasoning="optional"),
        _entry("glm-5.1", "zhipu", 204800, 131072, reasoning="always"),
        _entry("glm-5.2", "zhipu", 204800, 131072, reasoning="always"),
        _entry("kimi-k2.5", "moonshot", 262144, 32768, vision=True, reasoning="always"),
        _entry("kimi-k2.6", "moonshot", 262144, 32768, vision=True, reasoning="always"),
        _entry("kimi-k2.7-code", "moonshot", 262144, 65536, reasoning="optional"),
        _entry("minimax-m2.1", "minimax", 204800, 131072, reasoning="always"),
        _entry("minimax-m2.5", "minimax", 204800, 131072, reasoning="always"),
        _entry("minimax-m2.7", "minimax", 204800, 131072, reasoning="always"),
        _entry("qwen3.5-plus", "qwen", 1000000, 65536, vision=True, reasoning="optional"),
        _entry("qwen3.6-35b-a3b", "qwen", 262144, 32768, reasoning="optional"),
        _entry("qwen3.6-plus", "qwen", 1000000, 65536, vision=True, reasoning="optional"),
        _entry("qwen3.7-max", "qwen", 262144, 65536, reasoning="optional"),
        _entry("qwen3.7-plus", "qwen", 1000000, 65536, vision=True, reasoning="optional"),
    )
}

_UNKNOWN_CONTEXT = 32768
_UNKNOWN_OUTPUT = 4096


# Cached: both adapters look the profile up on every call (reasoning scope, LlamaIndex metadata), and
# building one costs ~2 µs of pydantic validation; profiles are frozen, so one instance can serve.
@lru_cache(maxsize=256)
def _unknown_profile(model: str) -> ModelProfile:
    return ModelProfile(id=model, owned_by="unknown", context_window=_UNKNOWN_CONTEXT,
                        max_output_tokens=_UNKNOWN_OUTPUT, known=False)


def get_model_profile(model: str, **overrides: Any) -> ModelProfile:
    """Profile for ``model``; keyword overrides (``context_window=...``) replace catalogue values."""
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"model must be a non-empty string, got {model!r}")
    base = MODEL_PROFILES.get(model) or _unknown_profile(model)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not overrides:
        return base
    unknown = set(overrides) - set(ModelProfile.model_fields)
    if unknown:
        raise InvalidInputError(f"Unknown model profile field(s): {sorted(unknown)}")
    return base.model_copy(update=overrides)
