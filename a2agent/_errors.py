"""Typed errors raised by the a2agent core.

    A2AgentError
    ├── InvalidInputError (also ValueError)   bad arguments or payloads, caught before any request
    ├── APIConnectionError                    the request never got an HTTP response
    │   └── APITimeoutError
    ├── APIStatusError                        the server answered 4xx/5xx
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403   (suspended key, insufficient balance)
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── UnprocessableEntityError   422
    │   ├── RateLimitError             429   (``is_quota_exhausted`` for balance/quota 429s)
    │   └── InternalServerError        >=500
    └── StreamError                           an error event arrived inside a 200 stream

No message, ``repr`` or ``body`` ever contains the API key: bodies are scrubbed with
``scrub_secret`` before an error is built, because gateways sometimes echo the key back.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "A2AgentError",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
]

_REDACTED = "***"
# Words that mark a 429 as an exhausted balance/quota rather than a transient rate limit
# (GLM and DeepSeek answer 429 for both; retrying the former only burns time).
_QUOTA_MARKERS = ("insufficient_quota", "insufficient_balance", "quota", "balance", "billing", "arrears")


class A2AgentError(Exception):
    """Base class of every error the package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(A2AgentError, ValueError):
    """Bad arguments or request payload; raised before anything is sent."""


class APIConnectionError(A2AgentError):
    """The request failed before an HTTP response arrived (DNS, refused, reset, protocol)."""

    def __init__(self, message: str = "Connection error.", *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool)."""

    def __init__(self, message: str = "Request timed out.", *, method: str = "", url: str = "") -> None:
        super().__init__(message, method=method, url=url)


class APIStatusError(A2AgentError):
    """The server answered with a 4xx or 5xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.headers = headers or {}

    @property
    def code(self) -> str | None:
        """The provider's error code (``error.code`` or ``error.type``), when the body has one."""
        err = _error_object(self.body)
        value = err.get("code") or err.get("type")
        return str(value) if value is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    @property
    def is_quota_exhausted(self) -> bool:
        """True when the 429 means an exhausted balance or quota: waiting will not help."""
        return is_quota_body(self.body)


class InternalServerError(APIStatusError):
    pass


class StreamError(A2AgentError):
    """An error event arrived inside a stream that had started with 200."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _error_object(body: Any) -> dict[str, Any]:
    """The inner error dict of an OpenAI (``{"error": {..}}``) or Anthropic body, else {}."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


def error_message(body: Any, default: str) -> str:
    """Best human message found in an error body of any known shape; lenient by design."""
    if isinstance(body, str):
        return body.strip()[:500] or default
    err = _error_object(body)
    for key in ("message", "msg", "detail", "error"):
        value = err.get(key)
        if isinstance(value, str) and value:
            return value
    return default


def is_quota_body(body: Any) -> bool:
    err = _error_object(body)
    text = " ".join(str(err.get(k, "")) for k in ("code", "type", "message")).lower()
    return any(marker in text for marker in _QUOTA_MARKERS)


def scrub_secret(value: Any, secret: str | None) -> Any:
    """Return ``value`` with every occurrence of ``secret`` replaced, recursing into JSON containers."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, _REDACTED) if secret in value else value
    if isinstance(value, dict):
        return {k: scrub_secret(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_secret(v, secret) for v in value]
    return value


def make_status_error(
    status_code: int,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    secret: str | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP error response; the body is scrubbed of ``secret``."""
    body = scrub_secret(body, secret)
    headers = dict(headers or {})
    request_id = headers.get("x-request-id") or headers.get("request-id")
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    message = f"Error code: {status_code} - {error_message(body, 'HTTP error')}"
    return cls(message, status_code=status_code, body=body, request_id=request_id, headers=headers)
