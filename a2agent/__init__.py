"""a2agent: the framework-free core for the A2Agent LLM gateway (httpx + pydantic only).

One transport (sync and async) with auth, a per-key rate limiter, retries with back-off, typed
errors, SSE decoding, stream accumulation and offline token counting; both the LangChain and
LlamaIndex adapters sit on top of it.

Module map (data flows top to bottom and back):
    _client.py     A2AgentClient / AsyncA2AgentClient, ChatStream: payload -> codec -> transport
    _validate.py   every input check (key, URL, timeout, headers, sampling ranges, payload, JSON)
    _codec.py      the codec protocol and the choice per api_format
    _openai.py     the OpenAI chat-completions codec (the canonical shape: a pass-through)
    _anthropic.py  the Anthropic Messages codec (requests, responses, stream events)
    _transport.py  the only httpx importer: requests, pools, error mapping, the retry loops
    _limiter.py    the per-key limiter: FIFO waiting (threads, event loops), one per key (the registry)
    _limiter_budget.py  its settings and pure in-process decisions (concurrency, AIMD rate from 429s)
    _limiter_redis.py  the limiter's budget in Redis, shared by processes (the ``[redis]`` extra)
    _retry.py      the pure retry policy (what is retried, how long to wait)
    _errors.py     the error tree and the one scrubbing point for API keys
    _sse.py        the sans-IO Server-Sent Events decoder
    _stream.py     the sans-IO stream accumulator (chunks -> one completion)
    _canonical.py  helpers over canonical messages that both adapters share
    _catalog.py    the model catalogue and capability profiles
    _tokens.py     offline token counting (text, whole requests) per model family
    integration.py what framework adapters may use beyond this public API
    types.py       the canonical wire types (TypedDicts)
    emulator/      a local A2Agent-compatible server (the ``[emulator]`` extra)
"""

__version__ = "0.1.0"

from ._catalog import MODEL_PROFILES, ModelProfile, get_model_profile
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
    LimiterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from ._limiter import LimiterSettings, LimiterStats
from ._retry import RetryPolicy
from ._sse import ServerSentEvent, SSEDecoder
from ._stream import StreamAccumulator
from ._tokens import TokenCounter, token_counter
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
    "LimiterError",
    "LimiterSettings",
    "LimiterStats",
    "ModelProfile",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamAccumulator",
    "StreamError",
    "TokenCounter",
    "UnprocessableEntityError",
    "__version__",
    "get_model_profile",
    "token_counter",
]
