"""The pure retry policy: what is retried, and how long to wait."""

from __future__ import annotations

import email.utils

import pytest

from a2agent import APIConnectionError, InvalidInputError, RateLimitError, RetryPolicy
from a2agent._errors import is_quota_exhausted, make_status_error

QUOTA = {"error": {"message": "Insufficient balance", "code": "insufficient_balance"}}
RATE = {"error": {"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize(
    ("status", "headers", "body", "retry"),
    [
        (408, {}, None, True), (409, {}, None, True), (429, {}, RATE, True), (500, {}, None, True),
        (502, {}, None, True), (503, {}, None, True), (529, {}, None, True),
        (429, {}, QUOTA, False), (400, {}, None, False), (401, {}, None, False), (403, {}, None, False),
        (404, {}, None, False), (422, {}, None, False),
        (400, {"x-should-retry": "true"}, None, True), (503, {"x-should-retry": "false"}, None, False),
    ],
    ids=["408", "409", "429", "500", "502", "503", "529", "429_quota", "400", "401", "403", "404", "422",
         "hint_true", "hint_false"],
)
def test_should_retry_status(status: int, headers: dict[str, str], body: object, retry: bool) -> None:
    assert RetryPolicy().should_retry_status(status, headers, body) is retry


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]), (1.0, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0])],
    ids=["no_jitter", "full_jitter"],
)
def test_exponential_backoff_capped_with_jitter(rand: float, expected: list[float]) -> None:
    policy = RetryPolicy(random=lambda: rand)
    assert [policy.delay(n) for n in range(6)] == pytest.approx(expected)


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.2"}, 0.2),
        ({"retry-after": email.utils.formatdate(NOW + 5, usegmt=True)}, 5.0),
        ({"retry-after": "120"}, 120.0),  # the cap itself is honoured
        ({"retry-after": "3600"}, None),  # beyond max_retry_after: no retry at all
        ({"retry-after": email.utils.formatdate(NOW + 600, usegmt=True)}, None),
        ({"retry-after": "soon"}, 0.5),
        ({"retry-after-ms": "abc"}, 0.5),
        ({"retry-after-ms": "nan"}, 0.5),
        ({"retry-after": "inf"}, 0.5),
        ({"retry-after": "0"}, 0.5),  # no back-off at all would hammer the gateway
        ({"retry-after-ms": "0"}, 0.5),
        ({"retry-after": "-3"}, 0.5),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.5),  # clock skew
        ({"retry-after-ms": "20"}, 0.02),
    ],
    ids=["ms", "ms_wins", "seconds", "fractional", "http_date", "at_cap", "too_long", "date_too_far", "garbage",
         "garbage_ms", "nan_ms", "inf", "zero", "zero_ms", "negative", "date_in_past", "small_ms"],
)
def test_server_delay_headers(headers: dict[str, str], expected: float | None) -> None:
    policy = RetryPolicy(random=lambda: 0.0, now=lambda: NOW)
    assert policy.delay(0, headers) == (None if expected is None else pytest.approx(expected))


# Real gateway bodies (WIRE.md): (status, headers, body, retried, quota_exhausted)
GATEWAY_BODIES = [
    ("qwen_rate_quota", 429, {"retry-after": "1"},
     {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded, please try again later."}, True, False),
    ("qwen_rate_quota_no_hint", 429, {},
     {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded, please try again later."}, True, False),
    ("qwen_allocation_quota", 429, {},
     {"code": "Throttling.AllocationQuota", "message": "Allocated quota exceeded, please increase your quota limit."},
     True, False),
    ("qwen_burst", 429, {}, {"code": "Throttling.BurstRate", "message": "Request rate increased too quickly."},
     True, False),
    ("qwen_arrearage", 429, {},
     {"code": "Arrearage", "message": "Access denied, please make sure your account is in good standing."},
     False, True),
    ("openai_insufficient_quota", 429, {},
     {"error": {"type": "insufficient_quota", "code": "insufficient_quota",
                "message": "You exceeded your current quota, please check your plan and billing details."}},
     False, True),
    ("openai_insufficient_quota_with_hint", 429, {"retry-after": "2"},
     {"error": {"type": "insufficient_quota", "code": "insufficient_quota",
                "message": "You exceeded your current quota, please check your plan and billing details."}},
     True, False),
    ("deepseek_402", 402, {}, {"error": {"message": "Insufficient Balance", "type": "unknown_error"}}, False, True),
    ("deepseek_429", 429, {}, {"error": {"message": "Rate Limit Reached", "type": "rate_limit_error"}}, True, False),
    ("glm_1113_balance", 429, {}, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}},
     False, True),
    ("glm_1302_concurrency", 429, {},
     {"error": {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"}},  # noqa: RUF001
     True, False),
    ("glm_1305_busy", 429, {}, {"error": {"code": "1305", "message": "当前API请求过多，请稍后重试。"}},  # noqa: RUF001
     True, False),
    ("glm_1308_period_cap", 429, {},
     {"error": {"code": "1308", "message": "已达到 5 小时的使用上限。您的限额将在 2026-11-25 10:00:00 重置。"}},
     False, True),
    ("moonshot_overloaded", 429, {},
     {"error": {"type": "engine_overloaded_error",
                "message": "The engine is currently overloaded, please try again later"}}, True, False),
    ("moonshot_too_many", 429, {},
     {"error": {"type": "rate_limit_error", "message": "We're receiving too many requests"}}, True, False),
    ("moonshot_usage_limit", 429, {},
     {"error": {"type": "rate_limit_error", "message": "You've reached your usage limit for this period"}},
     False, True),
    ("moonshot_not_active", 429, {},
     {"error": {"type": "exceeded_current_quota_error",
                "message": "Your account is not active, current state: suspended"}}, False, True),
    ("plain_text", 429, {}, "Too Many Requests", True, False),
    ("html", 429, {}, "<html><body><h1>429 Too Many Requests</h1></body></html>", True, False),
]


@pytest.mark.parametrize(("status", "headers", "body", "retried", "quota"), [c[1:] for c in GATEWAY_BODIES],
                         ids=[c[0] for c in GATEWAY_BODIES])
def test_rate_limit_or_quota_wall(status: int, headers: dict[str, str], body: object, retried: bool,
                                  quota: bool) -> None:
    assert RetryPolicy().should_retry_status(status, headers, body) is retried
    assert is_quota_exhausted(status, headers, body) is quota
    error = make_status_error(status, body, headers=headers)
    if status == 429:
        assert isinstance(error, RateLimitError) and error.is_quota_exhausted is quota


def test_retry_delay_decision_counts_attempts() -> None:
    policy = RetryPolicy(max_retries=2, random=lambda: 0.0)
    busy = make_status_error(503, None)
    assert [policy.retry_delay(n, busy) for n in (1, 2, 3)] == [0.5, 1.0, None]
    assert policy.retry_delay(1, APIConnectionError()) == 0.5
    assert policy.retry_delay(1, InvalidInputError("local")) is None  # local errors are never retried
    far = make_status_error(429, None, headers={"retry-after": "300"}, retry_after=300.0)
    assert policy.retry_delay(1, far) is None and far.retry_after == 300.0
