"""What the emulator's model knows: short answers to common prompts, the instructions it follows,
the values it extracts for structured output, and reasoning that reads like reasoning.

Everything is a pure function of the request, so answers stay deterministic. The table is small on
purpose: the emulator exists to exercise clients, and a prompt it has no entry for gets an honest
"no built-in answer" reply that quotes the prompt (tests rely on the quote to see what arrived).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Z][a-zà-ÿ]+(?:[ -][A-Z][a-zà-ÿ]+)?")

# -- instructions ---------------------------------------------------------------------------------
_BRIEF = ("briefly", "brief", "concise", "in one word", "one sentence", "short answer", "be short", "tersely")
_LANGUAGES = {"french": "fr", "français": "fr", "spanish": "es", "español": "es", "german": "de", "deutsch": "de"}


@dataclass(frozen=True)
class Style:
    """How to answer, read off the system prompt and the question."""

    brief: bool = False
    language: str = "en"
    pirate: bool = False


def style_of(system: str, user: str) -> Style:
    both = f"{system} {user}".lower()
    language = next((code for word, code in _LANGUAGES.items()
                     if re.search(rf"\b(?:in|speak|reply|answer|respond)\w*\s+(?:\w+\s+)?{word}\b", both)), "en")
    return Style(brief=any(k in both for k in _BRIEF), language=language, pirate="pirate" in system.lower())


# -- the built-in table ---------------------------------------------------------------------------
_CAPITALS = {
    "france": "Paris", "germany": "Berlin", "italy": "Rome", "spain": "Madrid", "portugal": "Lisbon",
    "japan": "Tokyo", "china": "Beijing", "india": "New Delhi", "canada": "Ottawa", "australia": "Canberra",
    "brazil": "Brasília", "mexico": "Mexico City", "egypt": "Cairo", "kenya": "Nairobi", "russia": "Moscow",
    "the united kingdom": "London", "the uk": "London", "england": "London", "the netherlands": "Amsterdam",
    "the united states": "Washington, D.C.", "the usa": "Washington, D.C.", "south korea": "Seoul",
}
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|greetings|good (?:morning|afternoon|evening))\b|say hello", re.I)
_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*(\+|-|\*|x|/|plus|minus|times|multiplied by|divided by)\s*"
                         r"(-?\d+(?:\.\d+)?)", re.I)
_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "plus": lambda a, b: a + b, "-": lambda a, b: a - b, "minus": lambda a, b: a - b,
    "*": lambda a, b: a * b, "x": lambda a, b: a * b, "times": lambda a, b: a * b,
    "multiplied by": lambda a, b: a * b, "/": lambda a, b: a / b if b else float("nan"),
    "divided by": lambda a, b: a / b if b else float("nan"),
}
_MY_NAME = re.compile(r"\bmy name is ([A-Z][\w-]+)|\bi am ([A-Z][\w-]+)|\bi'm ([A-Z][\w-]+)")

# (pattern, full answer, brief answer, what the model "thinks" before answering)
_FACTS: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"sky (?:is |look\w* )?blue", re.I),
     "Sunlight is scattered by the molecules of the air, and short (blue) wavelengths scatter far more than "
     "long (red) ones. That is Rayleigh scattering, so blue light reaches your eyes from every part of the sky.",
     "Rayleigh scattering: air scatters blue light much more than red.",
     "This is Rayleigh scattering: scattering goes as 1/wavelength^4, so blue scatters about five times more "
     "than red."),
    (re.compile(r"\b(?:llm |ai )?gateway\b", re.I),
     "An LLM gateway is one API in front of many model providers: one key and one request format for every "
     "model, with routing, retries and usage accounting in one place.",
     "One API and one key in front of many LLM providers.",
     "A gateway sits between the application and the providers; the point is one key, one format, many models."),
    (re.compile(r"\ba2agent\b", re.I),
     "A2Agent is an LLM gateway: one API key and one OpenAI- or Anthropic-compatible endpoint for DeepSeek, GLM, "
     "Kimi, MiniMax and Qwen models.",
     "An LLM gateway for DeepSeek, GLM, Kimi, MiniMax and Qwen.",
     "A2Agent is the gateway these models are served through."),
    (re.compile(r"\bstory\b", re.I),
     "Every night the lighthouse keeper counted the ships. One evening a ship blinked its lamp back at him, "
     "twice, and from then on he never felt alone.",
     "A lighthouse keeper waved at ships; one night a ship waved back.",
     "A very short story: one character, one small turn, two sentences."),
    (re.compile(r"\bjoke\b", re.I),
     "Why did the developer go broke? Because he used up all his cache.",
     "A developer went broke: he used up all his cache.",
     "A short programming pun should do."),
    (re.compile(r"\bpython\b", re.I),
     "Python is a general-purpose programming language known for its readable syntax and its large ecosystem "
     "of libraries.",
     "A readable general-purpose programming language.",
     "The programming language, not the snake."),
    (re.compile(r"who are you|what model are you|which model", re.I),
     "I'm {model}, served through the A2Agent gateway.", "{model}.",
     "They want to know which model is answering."),
]

_GREETINGS = {
    "en": "Hello! I'm {model}, answering through A2Agent. How can I help you today?",
    "fr": "Bonjour ! Je suis {model}, via A2Agent. Comment puis-je vous aider ?",
    "es": "¡Hola! Soy {model}, a través de A2Agent. ¿En qué puedo ayudarte?",
    "de": "Hallo! Ich bin {model}, über A2Agent. Wie kann ich helfen?",
}
_CAPITAL_SENTENCE = {"en": "The capital of {country} is {city}.", "fr": "La capitale est {city}.",
                     "es": "La capital es {city}.", "de": "Die Hauptstadt ist {city}."}
_YOUR_NAME = {"en": "Your name is {name}.", "fr": "Vous vous appelez {name}.", "es": "Te llamas {name}.",
              "de": "Sie heißen {name}."}
_NICE = {"en": "Nice to meet you, {name}!", "fr": "Enchanté, {name} !", "es": "¡Encantado, {name}!",
         "de": "Freut mich, {name}!"}


@dataclass(frozen=True)
class Answer:
    text: str
    thought: str


def answer(question: str, history: list[str], model: str, style: Style, attachments: list[str],
           images: list[str]) -> Answer:
    """The reply to ``question`` (the last user message); ``history`` holds the earlier user messages."""
    found = _known(question, history, model, style, images)
    if found is None:
        seen = f" I received {', '.join(attachments)}." if attachments else ""
        found = Answer(f"I'm the A2Agent emulator standing in for {model}: I know a few built-in answers and "
                       f"this is not one of them.{seen} You said: {question or '(nothing)'}",
                       "This prompt is outside the emulator's small table, so I'll say so and quote it.")
    text = f"Arr! {found.text}" if style.pirate else found.text
    return Answer(text, found.thought)


def _known(question: str, history: list[str], model: str, style: Style, images: list[str]) -> Answer | None:
    lowered = question.lower()
    lang = style.language
    grounded = _from_context(question)
    if grounded is not None:
        return grounded
    if images and (description := _describe_images(images)):
        return Answer(description, "Describe what the image shows: its colour and size; there is nothing else in it.")
    capital = re.search(r"capital (?:city )?of ([\w .]+?)\s*(?:\?|$|\.|,)", lowered)
    if capital and (city := _CAPITALS.get(capital.group(1).strip())):
        country = capital.group(1).strip()
        country = country[:4] + country[4:].title() if country.startswith("the ") else country.title()
        text = f"{city}." if style.brief else _CAPITAL_SENTENCE[lang].format(country=country, city=city)
        return Answer(text, f"The capital of {country} is {city}; a single sentence answers it.")
    if re.search(r"what(?:'s| is) my name", lowered):
        name = next((n for text in reversed(history) if (n := _introduced(text))), None)
        if name is None:
            return Answer("You haven't told me your name yet.", "Nothing earlier in the conversation gives a name.")
        return Answer(_YOUR_NAME[lang].format(name=name), f"Earlier in the conversation they said they are {name}.")
    if (name := _introduced(question)) is not None:
        return Answer(_NICE[lang].format(name=name), f"They introduced themselves as {name}; greet them by name.")
    if (arithmetic := _ARITHMETIC.search(question)) is not None:
        a, op, b = arithmetic.groups()
        value = _OPS[op.lower()](float(a), float(b))
        result = _fmt(value)
        return Answer(result if style.brief else f"{a} {op} {b} = {result}.",
                      f"Simple arithmetic: {a} {op} {b} is {result}.")
    if _GREETING.search(question):
        text = "Hello!" if style.brief else _GREETINGS[lang].format(model=model)
        return Answer(text, "The user is greeting me, so I'll say hello back and offer to help.")
    for pattern, full, brief, thought in _FACTS:
        if pattern.search(question):
            return Answer((brief if style.brief else full).format(model=model), thought)
    return None


# A retrieval-augmented prompt (LlamaIndex's text QA template and the like): context, then the query.
_CONTEXT = re.compile(r"context[^\n]*below[^\n]*\n-+\n(?P<context>.*?)\n-+\n.*?(?:query|question): *(?P<query>.+?)"
                      r"\s*(?:answer:\s*)?$", re.S | re.I)
_STOP = frozenset({"a", "an", "the", "is", "are", "was", "were", "of", "in", "on", "at", "to", "for", "and", "or",
                   "what", "which", "who", "how", "does", "do", "did", "it", "its", "that", "this", "with", "by",
                   "from", "as", "be", "about"})


def _from_context(prompt: str) -> Answer | None:
    """Answer from the retrieved context: the sentence sharing the most words with the query."""
    match = _CONTEXT.search(prompt)
    if match is None:
        return None
    query = match.group("query").strip()
    wanted = {w for w in re.findall(r"\w+", query.lower()) if w not in _STOP}
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", match.group("context")) if s.strip()]
    scored = [(len(wanted & set(re.findall(r"\w+", s.lower()))), -i, s) for i, s in enumerate(sentences)]
    best = max(scored, default=(0, 0, ""))
    if best[0] == 0:
        return Answer("The context does not say.", f"Nothing in the retrieved context answers \"{query}\".")
    return Answer(best[2], f"The retrieved context answers \"{query}\" directly; I'll quote the relevant sentence.")


def _introduced(text: str) -> str | None:
    match = _MY_NAME.search(text)
    return next(g for g in match.groups() if g) if match else None


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4g}"


# -- images ---------------------------------------------------------------------------------------
_COLOURS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (240, 220, 40),
            "orange": (245, 140, 20), "purple": (140, 50, 170), "white": (250, 250, 250), "black": (5, 5, 5),
            "grey": (128, 128, 128)}


def _describe_images(urls: list[str]) -> str | None:
    """Size and colour of PNG data URLs (from the first pixel, which no PNG row filter changes)."""
    parts = []
    for url in urls:
        info = _png_info(url)
        if info is None:
            return None
        width, height, rgb = info
        colour = min(_COLOURS, key=lambda c: sum((x - y) ** 2 for x, y in zip(_COLOURS[c], rgb, strict=True)))
        parts.append(f"a {colour} picture, {width}x{height} pixels")
    if len(parts) == 1:
        return f"I see {parts[0]}: a plain colour, with no text or objects."
    return f"I see {len(parts)} images: " + "; ".join(parts) + "."


def _png_info(url: str) -> tuple[int, int, tuple[int, int, int]] | None:
    if not url.startswith("data:image/png;base64,"):
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            return None
        width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
        pos, idat = 8, b""
        while pos + 8 <= len(data):
            (length,) = struct.unpack(">I", data[pos:pos + 4])
            if data[pos + 4:pos + 8] == b"IDAT":
                idat += data[pos + 8:pos + 8 + length]
            pos += 12 + length
        first = zlib.decompressobj().decompress(idat, 8)
    except (binascii.Error, ValueError, struct.error, zlib.error):
        return None
    if depth != 8 or colour_type not in (0, 2, 4, 6) or len(first) < 4:
        return None
    pixel = first[1:4] if colour_type in (2, 6) else bytes([first[1]] * 3)
    return width, height, (pixel[0], pixel[1], pixel[2])


# -- structured output ----------------------------------------------------------------------------
_NOT_NAMES = frozenset({
    "The", "A", "An", "Extract", "Please", "What", "Who", "Where", "When", "Why", "How", "Return", "Give",
    "Tell", "Text", "Reply", "Answer", "Use", "Call", "Is", "Are", "Name", "Age", "It", "This", "That",
    "Hello", "Hi", "Mr", "Mrs", "Ms", "Dr", "My", "Your", "Our", "Their", "Here", "There", "Respond",
    "Format", "Output", "Input", "Person", "User", "Json", "Yes", "No", "And", "Or", "Then", "Now",
})
_NAME_FIELDS = re.compile(r"(?:^|_)(?:name|person|author|who|username|first|last)(?:$|_)")
_NUMBER_FIELDS = re.compile(r"(?:^|_)(?:age|count|year|years|number|num|total|price|quantity|amount|score|n|"
                            r"population|height|weight|rating|sum|result)(?:$|_)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def proper_noun(text: str) -> str | None:
    """The first capitalized word (or two) that is not an instruction word: "Extract: Cy is 63" -> "Cy"."""
    for match in _WORD.finditer(text):
        words = re.split(r"[ -]", match.group())
        while words and words[0] in _NOT_NAMES:
            words.pop(0)
        if words and not set(words) & _NOT_NAMES:
            return " ".join(words)
    return None


def field_text(field: str, text: str) -> str | None:
    """A string for property ``field`` read off ``text`` by the field's meaning, or None."""
    key = field.lower()
    if "email" in key:
        email = _EMAIL.search(text)
        return email.group() if email else None
    if key in ("city", "capital"):
        return next((c for c in _CAPITALS.values() if c in text), None)
    if key == "country":
        return next((k.removeprefix("the ").title() for k in _CAPITALS if k in text.lower()), None)
    if _NAME_FIELDS.search(key):
        return proper_noun(text)
    return None


def is_number_field(field: str) -> bool:
    return bool(_NUMBER_FIELDS.search(field.lower()))


def json_object_for(keys: list[str], text: str, numbers: list[float], fallback: str) -> dict[str, Any]:
    """JSON mode has no schema: each key the prompt names gets a value by what its name means."""
    out: dict[str, Any] = {}
    pool = list(numbers)
    for key in keys:
        if is_number_field(key) and pool:
            value = pool.pop(0)
            out[key] = int(value) if value == int(value) else value
        else:
            out[key] = field_text(key, text) or fallback
    return out


# -- reasoning ------------------------------------------------------------------------------------
def call_thought(question: str, calls: list[tuple[str, dict[str, Any]]], results: list[tuple[str, str]]) -> str:
    """What a model thinks before a tool call: what it knows so far and which tool fits next."""
    done = "".join(f" The {name} tool returned {value}." for name, value in results)
    plans = []
    for name, args in calls:
        shown = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in args.items())
        plans.append(f"{name}({shown})")
    verb = "call " + " and ".join(plans) + (" in parallel" if len(plans) > 1 else "")
    return f"The user wants: {_clip(question)}.{done} I'll {verb}."


def final_thought(results: list[tuple[str, str]]) -> str:
    listing = ", ".join(f"{name} returned {value}" for name, value in results)
    return f"The tools did the work: {listing}. I'll give the user the final result."


def json_thought(payload: str) -> str:
    return f"I need to answer with JSON that fits the requested format; from the prompt that is {_clip(payload)}."


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split()).rstrip(".?!")
    return text if len(text) <= limit else text[: limit - 3] + "..."
