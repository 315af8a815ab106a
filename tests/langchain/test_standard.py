"""langchain-tests standard suites: unit, and integration against the emulator on loopback."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import BaseModel

from a2agent import BadRequestError, InvalidInputError
from a2agent.emulator import EmulatorServer
from langchain_a2agent import ChatA2Agent

_EMU: dict[str, EmulatorServer] = {}
_MEDIA = Path(__file__).parent.parent / "media"
_real_get = httpx.get


def _offline_get(url: str, *args: Any, **kwargs: Any) -> httpx.Response:
    """The standard suite downloads sample PDF/PNG/WAV files; this machine has no internet, so
    serve small valid files of the same kinds from tests/media (loopback calls pass through)."""
    host = httpx.URL(url).host
    if host in ("127.0.0.1", "localhost"):
        return _real_get(url, *args, **kwargs)
    for suffix, name in ((".pdf", "dummy.pdf"), (".wav", "tone.wav"), (".png", "red.png"), (".jpg", "red.png")):
        if url.endswith(suffix):
            return httpx.Response(200, content=(_MEDIA / name).read_bytes(), request=httpx.Request("GET", url))
    raise AssertionError(f"unexpected download in tests: {url}")


class TestChatA2AgentUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatA2Agent]:
        return ChatA2Agent

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "deepseek-chat", "api_key": "sk-unit-test-0123456789"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return ({"A2AGENT_API_KEY": "sk-from-env-0123456789", "A2AGENT_BASE_URL": "http://127.0.0.1:1/v1"},
                {"model": "glm-5"}, {"base_url": "http://127.0.0.1:1/v1", "model_name": "glm-5"})

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "glm-5"

    @pytest.mark.xfail(reason="langchain-core 1.8 load(allowed_objects='all') admits only classes listed in "
                       "langchain-core's own mapping, never a third-party class", raises=ValueError, strict=True)
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)

    def test_serdes_round_trip(self, model: ChatA2Agent, snapshot: Any) -> None:
        """The same checks, allowing our class explicitly as langchain-core requires for partners."""
        env_params, _, _ = self.init_from_env_params
        with mock.patch.dict(os.environ, env_params):
            serialized = dumpd(model)
            assert serialized == snapshot(name="serialized")
            assert "sk-" not in str(serialized)
            loaded = load(serialized, valid_namespaces=["langchain_a2agent"], allowed_objects=[ChatA2Agent],
                          secrets_from_env=True)
        assert loaded.dict() == model.dict()
        assert loaded.api_key.get_secret_value() == "sk-from-env-0123456789"


class TestChatA2AgentIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _emulator(self, a2agent_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
        _EMU["server"] = a2agent_emulator
        monkeypatch.setattr(httpx, "get", _offline_get)

    @property
    def chat_model_class(self) -> type[ChatA2Agent]:
        return ChatA2Agent

    @property
    def chat_model_params(self) -> dict[str, Any]:
        emu = _EMU["server"]
        return {"model": "qwen3.6-plus", "api_key": emu.api_key, "base_url": emu.base_url}

    @property
    def model_override_value(self) -> str:
        return "kimi-k2.5"

    # Every capability the gateway supports is switched on.
    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Literal["invoke", "stream"], list[Any]]:
        return {"invoke": ["reasoning_output", "cache_read_input"], "stream": ["reasoning_output", "cache_read_input"]}

    # Both usage probes keep this class's setting (format, thinking, streaming, output version).
    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        params = self.chat_model_params
        llm = ChatA2Agent(**{**params, "model": params["model"] if params.get("thinking") else "glm-5"})
        return _run(llm, [HumanMessage("Why is the sky blue?")], stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        llm = ChatA2Agent(**{**self.chat_model_params, "model": "deepseek-chat"})
        messages = [SystemMessage("You are a meticulous assistant. " * 50), HumanMessage("hi")]
        _run(llm, messages, stream)
        message = _run(llm, messages, stream)
        assert message.usage_metadata and message.usage_metadata["input_token_details"]["cache_read"] > 0
        return message


def _run(llm: ChatA2Agent, messages: list[Any], stream: bool) -> AIMessage:
    if not stream:
        return llm.invoke(messages)
    full: Any = None
    for chunk in llm.stream(messages):
        full = chunk if full is None else full + chunk
    return full  # type: ignore[no-any-return]


class TestChatA2AgentAnthropicIntegration(TestChatA2AgentIntegration):
    """The same standard suite over the Anthropic Messages format."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "api_format": "anthropic"}

    # What the Messages format itself has no place for (the codec refuses it with InvalidInputError):
    @property
    def supports_json_mode(self) -> bool:
        return False  # no response_format; structured output goes through tool calling

    @property
    def supports_audio_inputs(self) -> bool:
        return False  # no audio content block

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": "function_calling"}

    @property
    def supported_usage_metadata_details(self) -> dict[Literal["invoke", "stream"], list[Any]]:
        return {"invoke": ["cache_read_input"], "stream": ["cache_read_input"]}  # no separate reasoning count

    # The two switches off above skip the suite's tests; these check the refusal is clear and local.
    def test_json_mode_refused(self, model: BaseChatModel) -> None:
        sent = len(_EMU["server"].requests)
        for method in ("json_mode", "json_schema"):
            with pytest.raises(InvalidInputError, match="response_format"):
                model.with_structured_output(_Joke, method=method).invoke("Tell me a joke")  # type: ignore[arg-type]
        assert len(_EMU["server"].requests) == sent

    def test_audio_input_refused(self, model: BaseChatModel) -> None:
        audio = {"type": "audio", "base64": base64.b64encode((_MEDIA / "tone.wav").read_bytes()).decode(),
                 "mime_type": "audio/wav"}
        with pytest.raises(InvalidInputError, match="audio"):
            model.invoke([HumanMessage(content_blocks=[{"type": "text", "text": "What is this?"}, audio])])


class _Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


# -- the same suite in more settings: each its own model parameters and capability switches ----------

class TestChatA2AgentJsonSchemaIntegration(TestChatA2AgentIntegration):
    """Structured output through native ``response_format`` json_schema (Qwen documents it)."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "model": "qwen3.7-plus"}

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        return {"method": "json_schema"}


# The suite writes these histories by hand: an assistant tool-call turn, answered by its tool result,
# with no reasoning from the model. In thinking mode DeepSeek, GLM and Kimi answer 400 for a tool loop
# whose assistant turn lost its reasoning_content (Anthropic likewise wants the turn's signed thinking
# block first), and so does the emulator; a history the model produced itself passes (test_agent_loop).
_NO_REASONING = pytest.mark.xfail(
    raises=BadRequestError, strict=True,
    reason="hand-written assistant tool-call turn without reasoning_content: thinking-mode backends refuse it")


class _ThinkingHandWrittenToolTurns:
    @_NO_REASONING
    def test_tool_message_histories_string_content(self, model: BaseChatModel, my_adder_tool: BaseTool) -> None:
        super().test_tool_message_histories_string_content(model, my_adder_tool)  # type: ignore[misc]

    @_NO_REASONING
    def test_tool_message_histories_list_content(self, model: BaseChatModel, my_adder_tool: BaseTool) -> None:
        super().test_tool_message_histories_list_content(model, my_adder_tool)  # type: ignore[misc]

    @_NO_REASONING
    def test_tool_message_error_status(self, model: BaseChatModel, my_adder_tool: BaseTool) -> None:
        super().test_tool_message_error_status(model, my_adder_tool)  # type: ignore[misc]

    @_NO_REASONING
    def test_anthropic_inputs(self, model: BaseChatModel) -> None:
        super().test_anthropic_inputs(model)  # type: ignore[misc]


class TestChatA2AgentThinkingIntegration(_ThinkingHandWrittenToolTurns, TestChatA2AgentIntegration):
    """A reasoning model with thinking on: every tool loop needs its reasoning_content sent back."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "model": "kimi-k2.5", "thinking": True}

    @property
    def has_tool_choice(self) -> bool:
        return False  # Kimi refuses a forced tool_choice in thinking mode (the adapter asks "auto")

    @property
    def model_override_value(self) -> str:
        return "glm-5"


class TestChatA2AgentV1Integration(TestChatA2AgentIntegration):
    """LangChain's v1 content blocks as ``AIMessage.content``."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "output_version": "v1"}


class TestChatA2AgentStreamingIntegration(TestChatA2AgentIntegration):
    """``streaming=True``: invoke and ainvoke go through the SSE path."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "streaming": True}


class TestChatA2AgentAnthropicThinkingIntegration(_ThinkingHandWrittenToolTurns, TestChatA2AgentAnthropicIntegration):
    """The Messages format with a reasoning model thinking: signed thinking blocks go back in tool loops."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "model": "kimi-k2.5", "thinking": True}

    @property
    def model_override_value(self) -> str:
        return "glm-5"

    @property
    def has_tool_choice(self) -> bool:
        return False  # Kimi refuses a forced tool_choice in thinking mode (the adapter asks "auto")
