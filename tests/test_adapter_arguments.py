"""Both adapters take their constructor arguments the same way, through the core's validators."""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from a2agent import InvalidInputError
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent
from llama_index_a2agent import A2AgentLLM

KEY = "sk-test-0123456789abcdef"


def lc(**kw: Any) -> ChatA2Agent:
    return ChatA2Agent(api_key=KEY, **kw)


def li(**kw: Any) -> A2AgentLLM:
    return A2AgentLLM(api_key=KEY, **kw)


ADAPTERS: list[tuple[str, Callable[..., Any], str]] = [("langchain", lc, "model_kwargs"),
                                                       ("llama_index", li, "additional_kwargs")]
adapters = pytest.mark.parametrize(("name", "make", "extra_field"), ADAPTERS, ids=[a[0] for a in ADAPTERS])


@adapters
@pytest.mark.parametrize(("typo", "meant"), [("modle", "model"), ("temprature", "temperature"),
                                             ("max_token", "max_tokens"), ("tmeout", "timeout")])
def test_typo_of_a_declared_argument_is_refused(name: str, make: Callable[..., Any], extra_field: str,
                                                typo: str, meant: str) -> None:
    with pytest.raises(InvalidInputError, match=f"unknown argument '{typo}'; did you mean '{meant}'"):
        make(**{typo: 1})


@adapters
def test_undeclared_request_parameter_goes_to_the_body_with_a_warning(
        name: str, make: Callable[..., Any], extra_field: str, emu: EmulatorServer) -> None:
    base = {"base_url": emu.base_url} if name == "langchain" else {"api_base": emu.base_url}
    cls = ChatA2Agent if name == "langchain" else A2AgentLLM
    with pytest.warns(UserWarning, match="'presence_penalty' is not a declared parameter"):
        model = cls(api_key=emu.api_key, presence_penalty=0.5, **base)
    assert getattr(model, extra_field) == {"presence_penalty": 0.5}
    if name == "langchain":
        model.invoke("hi")
    else:
        model.complete("hi")
    assert emu.requests[-1]["body"]["presence_penalty"] == 0.5


@adapters
@pytest.mark.parametrize("credential", ["openai_api_key", "a2agent_api_key", "key", "api_token", "access_token",
                                        "secret", "password", "Authorization"])
def test_a_credential_under_another_name_is_refused_never_sent(name: str, make: Callable[..., Any],
                                                               extra_field: str, credential: str) -> None:
    # Unknown arguments go into the request body, reprs, callbacks and traces: a key must not.
    with pytest.raises(InvalidInputError, match=f"'{credential}', which looks like a credential") as info:
        make(**{credential: KEY})
    with pytest.raises(InvalidInputError, match="looks like a credential"):
        make(**{extra_field: {credential: KEY}})
    assert "api_key=" in str(info.value)


@adapters
@pytest.mark.parametrize("param", ["budget_tokens", "token_budget", "repetition_penalty"])
def test_request_parameters_that_mention_tokens_still_go_to_the_body(name: str, make: Callable[..., Any],
                                                                   extra_field: str, param: str) -> None:
    with pytest.warns(UserWarning, match="not a declared parameter"):
        model = make(**{param: 5})
    assert getattr(model, extra_field) == {param: 5}


@adapters
def test_pickles_carry_no_key_and_the_copy_takes_it_from_the_environment(
        name: str, make: Callable[..., Any], extra_field: str, emu: EmulatorServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"base_url": emu.base_url} if name == "langchain" else {"api_base": emu.base_url}
    cls = ChatA2Agent if name == "langchain" else A2AgentLLM
    model = cls(api_key=emu.api_key, temperature=0.2, **base)
    data = pickle.dumps(model)
    assert emu.api_key.encode() not in data
    monkeypatch.setenv("A2AGENT_API_KEY", emu.api_key)
    copy = pickle.loads(data)
    assert copy.temperature == 0.2
    answer = copy.invoke("hi").content if name == "langchain" else copy.complete("hi").text
    assert answer and emu.requests[-1]["body"]["temperature"] == 0.2
    model.invoke("hi") if name == "langchain" else model.complete("hi")  # the original still works
    monkeypatch.delenv("A2AGENT_API_KEY")
    with pytest.raises(InvalidInputError, match="needs an API key"):  # no key here: said, typed
        copy = pickle.loads(data)
        copy.invoke("hi") if name == "langchain" else copy.complete("hi")


@adapters
def test_a_parameter_given_twice_is_refused(name: str, make: Callable[..., Any], extra_field: str) -> None:
    with pytest.raises(InvalidInputError, match="given twice"):
        make(presence_penalty=0.5, **{extra_field: {"presence_penalty": 0.1}})


@adapters
def test_declared_arguments_raise_no_warning(name: str, make: Callable[..., Any], extra_field: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(model="glm-5", temperature=0.2, max_tokens=10, timeout=5, max_retries=1)


BAD_VALUES = [
    ({"temperature": 3}, "'temperature'] must be between 0.0 and 2.0"),
    ({"temperature": float("nan")}, "'temperature'] must be between"),
    ({"top_p": 1.5}, "'top_p'] must be between"),
    ({"max_tokens": 0}, "'max_tokens'] must be between 1"),
    ({"top_logprobs": 30}, "'top_logprobs'] must be between 0 and 20"),
    ({"timeout": -1}, "timeout must be a positive"),
    ({"timeout": float("inf")}, "timeout must be a positive, finite"),
    ({"max_retries": -1}, "max_retries must be a non-negative int"),
    ({"api_format": "gemini"}, "api_format"),
    ({"default_headers": {"X": 1}}, "default_headers"),
]


@adapters
@pytest.mark.parametrize(("kwargs", "match"), BAD_VALUES, ids=[next(iter(k)) + "-" + str(i)
                                                                 for i, (k, _) in enumerate(BAD_VALUES)])
def test_bad_values_fail_at_construction_with_one_wording(name: str, make: Callable[..., Any], extra_field: str,
                                                          kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match.replace("[", r"\[").replace("]", r"\]")):
        make(**kwargs)


@adapters
def test_missing_key_wording_comes_from_the_core(name: str, make: Callable[..., Any], extra_field: str) -> None:
    cls = ChatA2Agent if name == "langchain" else A2AgentLLM
    wording = re.escape("needs an API key: pass api_key=... or set the A2AGENT_API_KEY")
    with pytest.raises(InvalidInputError, match=wording):
        cls()


@pytest.mark.parametrize("cls", [ChatA2Agent, A2AgentLLM], ids=["ChatA2Agent", "A2AgentLLM"])
def test_every_own_field_is_documented(cls: type[Any]) -> None:
    base = cls.__mro__[1]
    own = {name: field for name, field in cls.model_fields.items() if name not in base.model_fields}
    assert own, "no own fields found"
    undocumented = sorted(name for name, field in own.items() if not (field.description or "").strip())
    assert undocumented == []
    for section in ("Setup", "ChatMessage" if cls is A2AgentLLM else "Key init args"):
        assert section in (cls.__doc__ or "")


def test_a_credential_named_request_field_is_refused_at_call_time_too(emu: EmulatorServer) -> None:
    from llama_index.core.llms import ChatMessage

    from a2agent import A2AgentClient

    client = A2AgentClient(api_key=emu.api_key, base_url=emu.base_url)
    sent = len(emu.requests)
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
    for name in ("api_key", "openai_api_key", "access_token"):
        with pytest.raises(InvalidInputError, match=f"payload\\['{name}'\\] looks like a credential"):
            client.chat_completions({**body, name: KEY})
    with pytest.raises(InvalidInputError, match="looks like a credential"):
        ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url).invoke("hi", api_token=KEY)
    with pytest.raises(InvalidInputError, match="looks like a credential"):
        A2AgentLLM(api_key=emu.api_key, api_base=emu.base_url).chat([ChatMessage(role="user", content="hi")],
                                                                     secret=KEY)
    for name in ("openaiApiKey", "x-api-key", "auth", "sk"):  # camel, kebab and short names alike
        with pytest.raises(InvalidInputError, match="looks like a credential"):
            client.chat_completions({**body, name: KEY})
    # The key's value under any name, however deep, never leaves in a body:
    for extra in ({"user": emu.api_key}, {"metadata": {"auth": {"value": emu.api_key}}}):
        with pytest.raises(InvalidInputError, match="request body contains the API key") as info:
            client.chat_completions({**body, **extra})
        assert emu.api_key not in str(info.value)
    with pytest.raises(InvalidInputError, match="request body contains the API key"):
        ChatA2Agent(api_key=emu.api_key, base_url=emu.base_url, extra_body={"nested": [emu.api_key]}).invoke("hi")
    assert len(emu.requests) == sent  # nothing left the process
    assert client.chat_completions({**body, "prompt_cache_key": "user-42"})["choices"]  # a real parameter


@adapters
def test_deep_copies_share_the_live_clients_and_copy_the_fields(name: str, make: Callable[..., Any],
                                                                extra_field: str, emu: EmulatorServer) -> None:
    import copy

    base = {"base_url": emu.base_url} if name == "langchain" else {"api_base": emu.base_url}
    cls = ChatA2Agent if name == "langchain" else A2AgentLLM
    model = cls(api_key=emu.api_key, temperature=0.2, stop=["END"], **base)
    for clone in (copy.deepcopy(model), model.model_copy(deep=True)):
        assert clone.stop == ["END"] and clone.stop is not model.stop  # fields are copied
        assert clone._client is model._client  # locks and pools are not copyable: shared
        answer = clone.invoke("hi").content if name == "langchain" else clone.complete("hi").text
        assert answer and emu.requests[-1]["body"]["temperature"] == 0.2
    if name == "langchain":  # what LangChain builds on a model deep-copies too
        copy.deepcopy(model.bind(stop=["x"])).invoke("hi")
