"""The emulator's deterministic "model": a pure function from a canonical request to replies.

Rules, in order:
1. A scripted reply (tests queue them) wins.
2. Tools offered and ``tool_choice`` is not "none": the tools named in the last user message form a
   plan, one step per answered tool call (all remaining steps at once when the user asks for them
   "in parallel"). Numbers in the prompt feed numeric arguments and each step's first number is
   the latest numeric tool result, so "add 3 and 4, then multiply by 5" really computes 35 through
   two tool turns. Tools the turn already called stay in the plan when no longer offered, so an
   agent taking over after a handoff carries on with the steps left. A forced choice
   (``required``/named) makes every reply a tool call, at every step.
3. After the plan is done: a final answer quoting the tool results.
4. ``response_format`` json_schema: an instance of the schema, with values read off the prompt by
   property name and type (``name`` -> the proper noun, an integer ``age`` -> the number);
   json_object: an object whose keys are the quoted names in the prompt, valued the same way
   (also for the final answer after tool results).
5. Otherwise an answer from the small built-in table in ``_answers.py`` (greetings, capitals, the
   blue sky, simple arithmetic, the user's name from earlier turns, PNG images...), following the
   system prompt's "answer briefly", language and persona instructions; a prompt outside the table
   gets a reply that says so and quotes it.
Reasoning models prepend ``reasoning_content`` that says what the model is about to do and why.
``stop`` and ``max_tokens`` (in tokens of the core's ``token_counter``, as usage is) are honoured.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .._catalog import ModelProfile
from .._tokens import token_counter
from . import _answers
from ._schema import InstanceGenerator

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_QUOTED = re.compile(r"['\"`]([^'\"`]{1,80})['\"`]")
_PIECE = re.compile(r"\s*\S+|\s+")
_PARALLEL = ("in parallel", "at the same time", "simultaneously", "all at once")


@dataclass
class ToolCallOut:
    id: str
    name: str
    arguments: str


@dataclass
class Reply:
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallOut] = field(default_factory=list)
    finish_reason: str = "stop"

    def content_pieces(self) -> list[str]:
        return _PIECE.findall(self.content) if self.content else []

    def reasoning_pieces(self) -> list[str]:
        return _PIECE.findall(self.reasoning) if self.reasoning else []


def text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def count_parts(content: Any, kind: str) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == kind)


def thinking_enabled(request: dict[str, Any], profile: ModelProfile) -> bool:
    thinking = request.get("thinking")
    mode = thinking.get("type") if isinstance(thinking, dict) else None
    if mode == "disabled" or profile.reasoning == "none":
        return False
    if profile.reasoning == "always":
        return True
    return mode == "enabled" or bool(request.get("reasoning_effort"))


def _last_user(messages: list[dict[str, Any]], skip_observations: bool = False) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            if skip_observations and text_of(messages[i].get("content")).startswith("Observation:"):
                continue
            return i
    return -1


_REACT_TOOL = re.compile(r"> Tool Name: (\S+)\s*\nTool Description:.*?\nTool Args: ", re.S)


def _react_tools(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tools a ReAct-style system prompt lists (``> Tool Name: x`` / ``Tool Args: {schema}``)."""
    system = " ".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    if "Action Input:" not in system:
        return {}
    tools: dict[str, dict[str, Any]] = {}
    decoder = json.JSONDecoder()
    for match in _REACT_TOOL.finditer(system):
        try:
            schema, _ = decoder.raw_decode(system, match.end())
        except ValueError:
            schema = {"type": "object", "properties": {}}
        tools[match.group(1)] = {"function": {"name": match.group(1), "parameters": schema}}
    return tools


def _answered_calls(turn: list[dict[str, Any]]) -> set[str]:
    """Ids of the turn's assistant tool calls that a tool message answered."""
    asked = {c.get("id") for m in turn if m.get("role") == "assistant" for c in m.get("tool_calls") or []
             if isinstance(c, dict)}
    return {m["tool_call_id"] for m in turn if m.get("role") == "tool" and m.get("tool_call_id") in asked}


def _called_tools(turn: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tools the turn already called, each with a schema read off its arguments: an agent that took
    over the conversation (a handoff) sees them in the history, not among its own tools."""
    called: dict[str, dict[str, Any]] = {}
    for m in turn:
        for c in m.get("tool_calls") or [] if m.get("role") == "assistant" else []:
            function = c.get("function") if isinstance(c, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                continue
            try:
                args = json.loads(function.get("arguments") or "{}")
            except ValueError:
                args = {}
            props = {k: {"type": "number"} for k, v in args.items()
                     if isinstance(v, int | float) and not isinstance(v, bool)} if isinstance(args, dict) else {}
            called.setdefault(function["name"], {"function": {"name": function["name"],
                                                              "parameters": {"type": "object", "properties": props}}})
    return called


def _tool_id(seed: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:24]


def _tool_schema(tool: dict[str, Any]) -> dict[str, Any]:
    params = tool.get("function", {}).get("parameters")
    return params if isinstance(params, dict) else {"type": "object", "properties": {}}


def _numeric_fields(schema: dict[str, Any]) -> int:
    props = schema.get("properties", {})
    return sum(1 for p in props.values() if isinstance(p, dict) and p.get("type") in ("integer", "number"))


_GENERIC_WORDS = frozenset({"get", "set", "fetch", "tool", "function", "call", "run", "make", "find", "the",
                            "with", "from", "info", "data", "value", "result", "magic"})


def _name_words(name: str) -> list[str]:
    words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return [w for w in words if len(w) >= 4 and w not in _GENERIC_WORDS]


def _as_number(text: str) -> float | None:
    match = _NUMBER.search(text or "")
    return float(match.group()) if match else None


class Planner:
    """Decides the reply for one request; pure apart from reading the request."""

    def __init__(self, request: dict[str, Any], profile: ModelProfile) -> None:
        self.request = request
        self.profile = profile
        self.messages: list[dict[str, Any]] = request["messages"]
        self.react_tools = _react_tools(self.messages)
        self.user_index = _last_user(self.messages, skip_observations=bool(self.react_tools))
        user = self.messages[self.user_index] if self.user_index >= 0 else {}
        self.user_content = user.get("content")
        self.user_text = text_of(self.user_content).strip()
        self.seed = hashlib.sha256(json.dumps(self.messages, sort_keys=True, default=str).encode()).hexdigest()
        self.system_text = " ".join(text_of(m.get("content")) for m in self.messages if m.get("role") == "system")
        self.thought = ""

    def reply(self) -> Reply:
        reply = self._react_reply() if self.react_tools else self._tool_reply()
        if reply is None:
            reply = Reply(content=self._text())
        if thinking_enabled(self.request, self.profile):
            reply.reasoning = self._reasoning(reply)
        return reply

    # -- tools ---------------------------------------------------------------------------------
    def _tool_reply(self) -> Reply | None:
        tools = [t for t in self.request.get("tools") or [] if isinstance(t, dict)]
        choice = self.request.get("tool_choice", "auto")
        if not tools or choice == "none":
            return None
        by_name = {t["function"]["name"]: t for t in tools}
        turn = self.messages[self.user_index + 1:]
        # One plan step per answered tool call, not per assistant message: a parallel batch of two
        # calls answered by two tool messages completes two steps.
        steps_done = len(_answered_calls(turn))
        # The plan also counts the tools this turn already called that are not offered now: after a
        # handoff the next agent carries on with the steps left (its own tools), as a model would.
        known = {**_called_tools(turn), **by_name}
        plan = self._plan(list(known))
        forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        must_call = bool(forced) or choice in ("required", "any")
        if forced:
            plan = [forced]
        elif not plan and (must_call or "tool" in self.user_text.lower()):
            plan = [next(iter(by_name))]
        if steps_done >= len(plan) or plan[steps_done] not in by_name:
            if must_call:
                # A forced choice binds every step, as on the real backends: call a tool rather than
                # answer in text: the named one; else one offered but not called yet this turn (an
                # answer tool, such as LangChain's structured-output tool, after the work is done);
                # else the last planned one.
                called = _called_tools(turn)
                again = forced or next((n for n in by_name if n not in called), None) or next(
                    (n for n in reversed(plan) if n in by_name), next(iter(by_name)))
                # an answer tool takes the latest result first (the work's outcome), not the inputs
                after = len(plan) if again not in plan else None
                return self._calls([again], plan, steps_done, known, turn, after)
            if steps_done and turn and turn[-1].get("role") == "tool":
                return Reply(content=self._final_answer(turn))
            return None
        parallel = self.request.get("parallel_tool_calls", True) is not False and any(
            p in self.user_text.lower() for p in _PARALLEL)
        batch = [n for n in plan[steps_done:] if n in by_name] if parallel else [plan[steps_done]]
        return self._calls(batch, plan, steps_done, known, turn)

    def _calls(self, batch: list[str], plan: list[str], steps_done: int, known: dict[str, Any],
               turn: list[dict[str, Any]], numbers_step: int | None = None) -> Reply:
        results = [text_of(m.get("content")) for m in turn if m.get("role") == "tool"]
        step = min(steps_done, len(plan) - 1) if numbers_step is None else numbers_step
        numbers = self._numbers_for(plan, step, known, results)
        calls = []
        for i, name in enumerate(batch):
            gen = InstanceGenerator(_tool_schema(known[name]), numbers, self._string_arg(), self._field)
            calls.append(ToolCallOut(_tool_id(self.seed, steps_done + i), name, json.dumps(gen.generate())))
        return Reply(content=None, tool_calls=calls, finish_reason="tool_calls")

    def _react_reply(self) -> Reply:
        """The ReAct text protocol: Thought/Action/Action Input lines, then Thought/Answer."""
        turn = self.messages[self.user_index + 1:]
        steps_done = sum(1 for m in turn if m.get("role") == "assistant" and "Action:" in text_of(m.get("content")))
        results = [text_of(m.get("content")).removeprefix("Observation:").strip() for m in turn
                   if m.get("role") == "user"]
        plan = self._plan(list(self.react_tools))
        if steps_done < len(plan):
            name = plan[steps_done]
            numbers = self._numbers_for(plan, steps_done, self.react_tools, results)
            args = InstanceGenerator(_tool_schema(self.react_tools[name]), numbers, self._string_arg(),
                                     self._field).generate()
            return Reply(content="Thought: The current language of the user is: English. I need to use a tool to "
                                 f"help me answer the question.\nAction: {name}\nAction Input: {json.dumps(args)}")
        answer = f"The final answer is {results[-1]}." if results else self._text()
        return Reply(content="Thought: I can answer without using any more tools. I'll use the user's language "
                             f"to answer\nAnswer: {answer}")

    def _plan(self, names: list[str]) -> list[str]:
        """Tools the user asks for, in the order asked: by exact name, or by a telling word of the
        name ("What is the weather?" -> get_weather), as a real model would pick them."""
        text = self.user_text
        lowered = text.lower()
        found = []
        for name in names:
            match = re.search(rf"\b{re.escape(name)}\b", text)
            if match:
                found.append((match.start(), name))
                continue
            positions = [m.start() for word in _name_words(name)
                         if (m := re.search(rf"\b{re.escape(word)}", lowered))]
            if positions:
                found.append((min(positions), name))
        return [name for _, name in sorted(found)]

    def _numbers_for(self, plan: list[str], step: int, by_name: dict[str, Any],
                     results: list[str]) -> deque[float]:
        pool = deque(float(n) for n in _NUMBER.findall(self.user_text))
        for i in range(step):
            take = _numeric_fields(_tool_schema(by_name.get(plan[i], {})))
            for _ in range(max(0, take - (1 if i else 0))):
                if pool:
                    pool.popleft()
        # the latest result that is a number (a handoff's or a lookup's text result carries none)
        previous = next((n for text in reversed(results) if (n := _as_number(text)) is not None), None)
        if step and previous is not None:
            pool.appendleft(previous)
        return pool

    def _field(self, name: str) -> str | None:
        # A quoted value in the prompt is what the user wants verbatim: it wins over reading by name.
        return None if _QUOTED.search(self.user_text) else _answers.field_text(name, self.user_text)

    def _string_arg(self) -> str:
        quoted = _QUOTED.findall(self.user_text)
        return quoted[0] if quoted else (self.user_text[:80] or "example")

    def _final_answer(self, turn: list[dict[str, Any]]) -> str:
        json_answer = self._json_answer([text_of(m.get("content")) for m in turn if m.get("role") == "tool"][-1:])
        if json_answer is not None:  # response_format binds the answer after tool results too
            return json_answer
        names = {c["id"]: c["function"]["name"] for m in turn for c in m.get("tool_calls") or []}
        results = [(names.get(m.get("tool_call_id", ""), "tool"), text_of(m.get("content")))
                   for m in turn if m.get("role") == "tool"]
        listing = ", ".join(f"{name} -> {value}" for name, value in results)
        self.thought = _answers.final_thought(results)
        return f"Tool results: {listing}. The final answer is {results[-1][1]}."

    # -- text ----------------------------------------------------------------------------------
    def _text(self) -> str:
        json_answer = self._json_answer([])
        if json_answer is not None:
            return json_answer
        notes = []
        for kind, label in (("image_url", "image"), ("input_audio", "audio clip"), ("file", "file")):
            n = count_parts(self.user_content, kind)
            if n:
                notes.append(f"{n} {label}{'s' if n > 1 else ''}")
        parts = self.user_content if isinstance(self.user_content, list) else []
        images = [str((p.get("image_url") or {}).get("url", "")) for p in parts
                  if isinstance(p, dict) and p.get("type") == "image_url"]
        history = [text_of(m.get("content")) for m in self.messages[:max(self.user_index, 0)]
                   if m.get("role") == "user"]
        style = _answers.style_of(self.system_text, self.user_text)
        found = _answers.answer(self.user_text, history, self.request["model"], style, notes, images)
        self.thought = found.thought
        return found.text

    def _json_answer(self, results: list[str]) -> str | None:
        """The answer ``response_format`` asks for; numbers come from ``results`` (tool outputs)
        first, then the prompt."""
        fmt = self.request.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            numbers = deque(float(n) for text in [*results, self.user_text] for n in _NUMBER.findall(text))
            answer = json.dumps(InstanceGenerator(schema, numbers, self._string_arg(), self._field).generate())
            self.thought = _answers.json_thought(answer)
            return answer
        if fmt.get("type") == "json_object":
            prompt = " ".join(text_of(m.get("content")) for m in self.messages)
            keys = [k for k in dict.fromkeys(_QUOTED.findall(prompt)) if k.isidentifier()] or ["answer"]
            value = results[-1] if results else self.user_text or "ok"
            found = [float(n) for text in [*results, self.user_text] for n in _NUMBER.findall(text)]
            answer = json.dumps(_answers.json_object_for(keys, self.user_text, found, value))
            self.thought = _answers.json_thought(answer)
            return answer
        return None

    def _reasoning(self, reply: Reply) -> str:
        if reply.tool_calls:
            turn = self.messages[self.user_index + 1:]
            names = {c["id"]: c["function"]["name"] for m in turn for c in m.get("tool_calls") or []
                     if isinstance(c, dict) and isinstance(c.get("function"), dict)}
            results = [(names.get(m.get("tool_call_id", ""), "tool"), text_of(m.get("content")))
                       for m in turn if m.get("role") == "tool"]
            calls = [(c.name, _loads(c.arguments)) for c in reply.tool_calls]
            return _answers.call_thought(self.user_text, calls, results)
        return self.thought or "The user wants an answer; I'll reply directly."


def _loads(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def apply_limits(reply: Reply, request: dict[str, Any]) -> Reply:
    """Honour ``stop`` (cut before the first stop sequence) and ``max_tokens`` (finish "length")."""
    if reply.content is None:
        return reply
    stop = request.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((reply.content.find(s) for s in stops if s and s in reply.content), default=-1)
    if cut >= 0:
        reply.content = reply.content[:cut]
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    counter = token_counter(request["model"])
    if isinstance(limit, int) and counter.count_text(reply.content) > limit:
        pieces = reply.content_pieces()  # the longest run of whole pieces within the limit
        low, high = 0, len(pieces)
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if counter.count_text("".join(pieces[:mid])) <= limit else (low, mid - 1)
        reply.content = "".join(pieces[:low])
        reply.finish_reason = "length"
    return reply


def scripted_reply(entry: dict[str, Any], seed: str) -> Reply:
    calls = []
    for i, call in enumerate(entry.get("tool_calls") or []):
        args = call.get("arguments", {})
        calls.append(ToolCallOut(call.get("id") or _tool_id(seed, i), call["name"],
                                 args if isinstance(args, str) else json.dumps(args)))
    finish = entry.get("finish_reason") or ("tool_calls" if calls else "stop")
    return Reply(content=entry.get("content"), reasoning=entry.get("reasoning"), tool_calls=calls,
                 finish_reason=finish)
