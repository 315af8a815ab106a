"""The toolkit framework adapters build on: everything ``langchain_a2agent`` and
``llama_index_a2agent`` use from the core besides the public client API, in one place.

Applications use ``a2agent`` itself (clients, errors, the catalogue). An adapter, ours or one for
another framework, imports from here and from ``a2agent`` / ``a2agent.types`` only, never from the
private modules, so the core can be rearranged behind this list. What is here:

- canonical-message helpers (``_canonical.py``): tool choice, tool attachments, strict JSON schemas,
  the reasoning pass-back rule, usage token details, the tool-error flag;
- stream state (``_stream.py``): ``StreamAccumulator`` and its per-choice ``ChoiceState``, so an
  adapter folds chunks the way the core does, and ``plain_text``, which tells the text-only chunk
  an adapter converts on its fast path;
- validators (``_validate.py``): the sampling-parameter ranges both adapters check at construction,
  the sorting of unknown constructor arguments (typos refused, request parameters moved into the
  body with a warning), and the conversion of a pydantic ``ValidationError`` into an
  ``InvalidInputError``; ``state_without_secrets``, a model's pickle state without the key; ``memo_sharing``, a
  deep copy that shares the live clients;
- ``missing_extra``: the error an adapter package raises when its framework is not installed;
- ``shared_limiter`` (``_limiter.py``): the per-key limiter, for framework rate-limiter hooks.
"""

from ._canonical import (
    TOOL_ERROR_KEY,
    forced_tool_choice_allowed,
    json_schema_response_format,
    normalize_tool_choice,
    reasoning_for_request,
    relax_forced_tool_choice,
    split_tool_attachments,
    to_strict_json_schema,
    token_details,
)
from ._extras import missing_extra
from ._limiter import KeyLimiter, shared_limiter
from ._stream import ChoiceState, StreamAccumulator, plain_text
from ._validate import (
    PARAMETER_DOCS,
    check_sampling,
    invalid_input,
    memo_sharing,
    split_unknown_arguments,
    state_without_secrets,
)

__all__ = [
    "PARAMETER_DOCS",
    "TOOL_ERROR_KEY",
    "ChoiceState",
    "KeyLimiter",
    "StreamAccumulator",
    "check_sampling",
    "forced_tool_choice_allowed",
    "invalid_input",
    "json_schema_response_format",
    "memo_sharing",
    "missing_extra",
    "normalize_tool_choice",
    "plain_text",
    "reasoning_for_request",
    "relax_forced_tool_choice",
    "shared_limiter",
    "split_tool_attachments",
    "split_unknown_arguments",
    "state_without_secrets",
    "to_strict_json_schema",
    "token_details",
]
