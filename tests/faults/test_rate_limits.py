"""429 (and 402) classification over real gateway bodies (contract i): transient limits are retried,
exhausted balances and quotas are not, and ``RateLimitError.is_quota_exhausted`` says which."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from a2agent import APIStatusError, RateLimitError
from tests.faults.helpers import answer, make_api, ok_reply, run, run_raises
from tests.faults.server import FaultServer, Step, respond

Hunt = Callable[..., None]

NGINX_429 = ("<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
             "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


class Case(NamedTuple):
    status: int
    body: Any
    headers: dict[str, str]
    retried: bool
    quota: bool | None  # expected is_quota_exhausted (None: not specified)
    content_type: str = "application/json"


CASES: dict[str, Case] = {
    "qwen_rate_quota": Case(429, {"code": "Throttling.RateQuota",
                                  "message": "Requests rate limit exceeded, please try again later."},
                            {"Retry-After": "1"}, True, False),
    "qwen_allocation_quota": Case(429, {"code": "Throttling.AllocationQuota",
                                        "message": "Allocated quota exceeded, please increase your quota limit."},
                                  {}, True, False),
    "qwen_burst_rate": Case(429, {"code": "Throttling.BurstRate",
                                  "message": "Request rate increased too quickly, please ramp up gradually."},
                            {}, True, False),
    "qwen_arrearage": Case(429, {"code": "Arrearage",
                                 "message": "Access denied, please make sure your account is in good standing."},
                           {}, False, True),
    "openai_insufficient_quota": Case(429, {"error": {
        "type": "insufficient_quota", "code": "insufficient_quota",
        "message": "You exceeded your current quota, please check your plan and billing details."}}, {}, False, True),
    "openai_insufficient_quota_retry_after": Case(429, {"error": {
        "type": "insufficient_quota", "code": "insufficient_quota",
        "message": "You exceeded your current quota, please check your plan and billing details."}},
        {"Retry-After": "2"}, True, None),
    "deepseek_402": Case(402, {"error": {"message": "Insufficient Balance", "type": "unknown_error",
                                         "param": None, "code": "invalid_request_error"}}, {}, False, None),
    "glm_1113_balance": Case(429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}},
                             {}, False, True),
    "glm_1302_concurrency": Case(429, {"error": {
        "code": "1302",
        "message": "您当前使用该API的并发数过高\uff0c请降低并发\uff0c或联系客服增加限额。"}}, {}, True, False),
    "moonshot_too_many": Case(429, {"error": {"type": "rate_limit_error",
                                              "message": "We're receiving too many requests"}}, {}, True, False),
    "moonshot_overloaded": Case(429, {"error": {
        "type": "rate_limit_error", "message": "The engine is currently overloaded, please try again later"}},
        {}, True, False),
    "moonshot_usage_limit": Case(429, {"error": {
        "type": "rate_limit_error", "message": "You've reached your usage limit for this period"}}, {}, False, True),
    "deepseek_429": Case(429, {"error": {"message": "Rate Limit Reached", "type": "rate_limit_error"}},
                         {}, True, False),
    "plain_text": Case(429, "Too Many Requests", {}, True, False, "text/plain"),
    "html_page": Case(429, NGINX_429, {}, True, False, "text/html"),
}


def _reply(case: Case) -> list[Step]:
    return respond(case.status, case.body, headers=case.headers, content_type=case.content_type)


@pytest.mark.parametrize("name", list(CASES))
def test_retry_decision(mode: str, fmt: str, kind: str, name: str, server: FaultServer, hunt: Hunt) -> None:
    case = CASES[name]
    server.script(_reply(case), ok_reply(fmt, kind))
    api = make_api(mode, server, fmt, max_retries=2)
    if case.retried:
        assert run(api, lambda a: answer(a, kind)) == "ok"
        assert server.request_count == 2 and len(api.sleeps) == 1
        if "Retry-After" in case.headers:
            assert api.sleeps == [float(case.headers["Retry-After"])]
        return
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, APIStatusError), repr(exc)
    assert exc.status_code == case.status
    assert server.request_count == 1 and api.sleeps == [], "an exhausted balance/quota must not be retried"
    hunt(exc)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.status == 429 and c.quota is not None])
def test_quota_flag(mode: str, kind: str, name: str, server: FaultServer, hunt: Hunt) -> None:
    case = CASES[name]
    server.always(_reply(case))
    api = make_api(mode, server, max_retries=0)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, RateLimitError), repr(exc)
    assert exc.is_quota_exhausted is case.quota
    assert server.request_count == 1
    hunt(exc)


def test_402_is_a_status_error_not_retried(mode: str, server: FaultServer) -> None:
    server.always(_reply(CASES["deepseek_402"]))
    api = make_api(mode, server, max_retries=5)
    exc = run_raises(api, lambda a: answer(a, "json"))
    assert isinstance(exc, APIStatusError) and not isinstance(exc, RateLimitError), repr(exc)
    assert exc.status_code == 402 and "Insufficient Balance" in str(exc)
    assert server.request_count == 1 and api.sleeps == []
