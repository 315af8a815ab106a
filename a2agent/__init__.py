"""a2agent: the framework-free core for the A2Agent LLM gateway (httpx + pydantic only).

One transport (sync and async) with auth, retries with back-off, typed errors, SSE decoding and
stream accumulation; both the LangChain and LlamaIndex adapters sit on top of it.
"""

__version__ = "0.1.0"

from ._client import A2AgentClient, AsyncA2AgentClient, AsyncChatStream, ChatStream
from ._errors import (
    A2AgentError,
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from ._models import MODEL_PROFILES, ModelProfile, get_model_profile
from ._retry import RetryPolicy
from ._sse import ServerSentEvent, SSEDecoder
from ._stream import StreamAccumulator
from ._transport import DEFAULT_BASE_URL

__all__ = [
    "DEFAULT_BASE_URL",
    "MODEL_PROFILES",
    "A2AgentClient",
    "A2AgentError",
    "APIConnectionError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncA2AgentClient",
    "AsyncChatStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatStream",
    "ConflictError",
    "InternalServerError",
    "InvalidInputError",
    "ModelProfile",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAccumulator",
    "StreamError",
    "UnprocessableEntityError",
    "__version__",
    "get_model_profile",
]
