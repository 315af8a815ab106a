"""The core's errors as LangChain's provider-neutral exception classes, as langchain-openai does.

Each class here is both the a2agent error (``except a2agent.RateLimitError`` and every attribute:
status, body, headers, ``retry_after``, ``attempts``) and langchain-core's ``ModelError`` subclass for
the same condition (``except ModelRateLimitError``, ``error.is_retryable``), so handlers and retry
helpers written for any provider work with ChatA2Agent. ``InvalidInputError`` stays as it is (a
``ValueError`` raised before any request).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import a2agent

__all__ = ["LANGCHAIN_ERRORS", "as_langchain_error"]

# Wording of context-window errors from the backends behind the gateway (OpenAI-style code,
# Kimi "exceeded model token limit", Qwen "Range of input length", Anthropic "prompt is too long").
_OVERFLOW_MARKERS = ("context_length_exceeded", "maximum context length", "context window",
                     "exceeded model token limit", "range of input length", "prompt is too long",
                     "input is too long", "too many tokens")

# Most specific first: the first core class an error is an instance of picks the LangChain class.
_PAIRS: list[tuple[type[a2agent.A2AgentError], type[ModelError]]] = [
    (a2agent.AuthenticationError, ModelAuthenticationError),
    (a2agent.PermissionDeniedError, ModelPermissionDeniedError),
    (a2agent.NotFoundError, ModelNotFoundError),
    (a2agent.RateLimitError, ModelRateLimitError),
    (a2agent.BadRequestError, ModelInvalidRequestError),
    (a2agent.UnprocessableEntityError, ModelInvalidRequestError),
    (a2agent.InternalServerError, ModelAPIError),
    (a2agent.APIStatusError, ModelAPIError),
    (a2agent.APITimeoutError, ModelTimeoutError),
    (a2agent.APIConnectionError, ModelConnectionError),
    (a2agent.APIResponseError, ModelAPIError),
]
_DUALS: dict[tuple[type[Any], type[Any]], type[a2agent.A2AgentError]] = {}


def _dual(core: type[Any], model_error: type[Any]) -> type[a2agent.A2AgentError]:
    """The class that is both (named after the core one: tracebacks read ``RateLimitError``)."""
    cls = _DUALS.get((core, model_error))
    if cls is None:
        doc = f"{core.__name__} from the a2agent core, also langchain-core's {model_error.__name__}."
        cls = _DUALS[(core, model_error)] = type(core.__name__, (core, model_error),
                                                 {"__module__": __name__, "__doc__": doc})
    return cls


def as_langchain_error(error: a2agent.A2AgentError) -> BaseException:
    """The same error as an instance of its dual class (attributes copied; already scrubbed)."""
    if isinstance(error, ModelError | a2agent.InvalidInputError):
        return error
    model_error = next((lc for core, lc in _PAIRS if isinstance(error, core)), None)
    if model_error is None:
        return error
    if model_error is ModelInvalidRequestError and any(m in error.message.lower() for m in _OVERFLOW_MARKERS):
        model_error = ContextOverflowError
    cls = _dual(type(error), model_error)
    converted = cls.__new__(cls)
    Exception.__init__(converted, *error.args)
    converted.__dict__.update(error.__dict__)
    if isinstance(error, a2agent.RateLimitError) and error.is_quota_exhausted:
        converted.__dict__["is_retryable"] = False  # a quota wall: retrying the same request will not help
    converted.__traceback__ = error.__traceback__
    converted.__cause__ = error.__cause__
    return converted


class _LangChainErrors:
    """``with LANGCHAIN_ERRORS:`` around a call into the core re-raises its errors as their dual
    class. A class, not a generator context manager: it runs on every invoke and every stream."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(error, a2agent.A2AgentError):
            converted = as_langchain_error(error)
            if converted is not error:
                raise converted
        return False


LANGCHAIN_ERRORS = _LangChainErrors()
