"""The ``a2agent`` command line (also ``python -m a2agent``): list models, chat, run the emulator.

Built on the core's public API and the standard library only: no framework is imported, and the
emulator (with its extra) loads only for ``a2agent emulator``. The API key comes from
``A2AGENT_API_KEY`` or ``--api-key`` and is never printed: the core scrubs it from every error, and
this module also takes it out of argparse's messages (an unknown option may quote it).

Exit status: 0 ok, 1 API or network error, 2 usage error (argparse, or an input the core refused
before sending anything: no key, no prompt, a bad value) or a missing extra (``a2agent emulator``
without ``a2agent[emulator]``), 130 interrupted; a closed stdout
(``| head``) ends the command quietly with 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

from . import DEFAULT_BASE_URL, MODEL_PROFILES, A2AgentClient, A2AgentError, InvalidInputError, __version__
from ._codec import get_codec
from ._validate import DEFAULT_TIMEOUT, validate_chat_payload  # the client's default: the help cannot drift

__all__ = ["main"]

PROG = "a2agent"
DEFAULT_MODEL = "deepseek-chat"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger("a2agent")  # the core's logger: its filter scrubs the key from every record

_KEY_HELP = ("no API key: set the A2AGENT_API_KEY environment variable (export A2AGENT_API_KEY=...) "
             "or pass --api-key KEY")

# Keys this run knows of (from the flag or the environment): taken out of anything argparse prints.
_SECRETS: list[str] = []

_EXIT_STATUS = ("exit status: 0 ok, 1 API or network error, 2 usage error (bad option, no key or\n"
                "prompt) or a missing extra, 130 interrupted")

_MAIN_EXAMPLES = f"""\
examples:
  export A2AGENT_API_KEY=...            # the key: this variable, or --api-key
  a2agent models
  a2agent chat "Write a haiku about the sea"
  echo "Explain SSE in one line" | a2agent chat --model glm-5 --usage
  a2agent emulator --port 8765          # a local gateway for tests and demos

{_EXIT_STATUS}"""

_MODELS_EXAMPLES = """\
examples:
  a2agent models
  a2agent models --json
  a2agent --base-url http://127.0.0.1:8765/v1 models

Columns come from the gateway's /v1/models listing joined with the built-in model catalogue;
models the catalogue does not know show "?" (and "known": false in --json)."""

_CHAT_EXAMPLES = f"""\
examples:
  a2agent chat "Hello!"
  a2agent chat --model glm-5 --system "Answer in French" "What is SSE?"
  git diff | a2agent chat --model qwen3.7-max "Review this diff"
  a2agent chat --format anthropic --no-stream --usage "Hi"
  a2agent chat --model glm-5 "Why is the sky blue?" 2>/dev/null   # the answer only

Text piped in with a prompt argument is sent after the prompt and a blank line (an
empty stdin adds nothing). stdin is read whenever it is not a terminal: where it is a
pipe that never closes (some scripts and CI runners), add </dev/null.

The answer streams to stdout. Reasoning (thinking models) goes to stderr between [reasoning] and
[/reasoning] lines (dimmed on a terminal), so a redirect of stdout keeps the answer alone;
--hide-reasoning drops it. --usage prints the token usage on stderr at the end.

{_EXIT_STATUS}"""

_EMULATOR_EXAMPLES = """\
examples:
  a2agent emulator                       # http://127.0.0.1:8765/v1, key sk-a2agent-emulator
  a2agent emulator --port 9000 --chunk-delay 0.05
  A2AGENT_BASE_URL=http://127.0.0.1:8765/v1 A2AGENT_API_KEY=sk-a2agent-emulator a2agent chat "hi"

Needs the emulator extra: pip install 'a2agent[emulator]'. Stop it with Ctrl-C."""


# -- argument parsing ------------------------------------------------------------------------------
def _hide(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors scrubbed of the key; help keeps the examples' line breaks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_hide(message)}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _connection_options(suppress: bool) -> _Parser:
    """Global options, accepted before or after the command (``suppress``: a subcommand's copy,
    which sets nothing unless given, so it never hides a value given before the command)."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("connection options")

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group.add_argument("--base-url", metavar="URL", default=default(None),
                       help=f"gateway URL (default: $A2AGENT_BASE_URL, else {DEFAULT_BASE_URL})")
    group.add_argument("--api-key", metavar="KEY", default=default(None),
                       help="API key (default: $A2AGENT_API_KEY; prefer the variable, a flag shows in the "
                            "process list)")
    group.add_argument("--timeout", metavar="SECONDS", type=_positive_float, default=default(None),
                       help=f"timeout of each request (default: {DEFAULT_TIMEOUT:g})")
    group.add_argument("--max-retries", metavar="N", type=_non_negative_int, default=default(None),
                       help="retries of 408/409/429/5xx answers and connection errors (default: 2)")
    group.add_argument("-v", "--verbose", action="store_true", default=default(False),
                       help="log each request and retry to stderr (never the key)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, parents=[_connection_options(False)], epilog=_MAIN_EXAMPLES,
                     description="Command line for the A2Agent LLM gateway: list its models, chat with\n"
                                 "one, run a local emulator.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True,
                                     parser_class=_Parser)
    sub_parent = _connection_options(True)

    models = commands.add_parser("models", parents=[sub_parent], epilog=_MODELS_EXAMPLES,
                                 help="list the gateway's models with their catalogue profile",
                                 description="List the gateway's models (GET /v1/models) with the catalogue\n"
                                             "profile of each: context window, max output, tools, vision,\n"
                                             "reasoning.")
    models.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    chat = commands.add_parser("chat", parents=[sub_parent], epilog=_CHAT_EXAMPLES,
                               help="send one prompt and stream the answer",
                               description="Send one prompt (the arguments, stdin, or both) and stream\n"
                                           "the answer to stdout.")
    chat.add_argument("prompt", nargs="*", help="the prompt (words are joined by spaces); read from stdin "
                                                "when absent or '-'; text piped in with it is sent after "
                                                "it and a blank line")
    chat.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model id (default: {DEFAULT_MODEL})")
    chat.add_argument("--format", dest="api_format", choices=("openai", "anthropic"), default="openai",
                      help="wire format: openai (POST /v1/chat/completions) or anthropic (POST /v1/messages); "
                           "default: openai")
    chat.add_argument("-s", "--system", metavar="TEXT", help="system prompt")
    chat.add_argument("-t", "--temperature", type=float, metavar="T", help="sampling temperature, 0-2")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="cap on the answer's tokens")
    chat.add_argument("--no-stream", dest="stream", action="store_false",
                      help="wait for the whole answer instead of streaming it")
    chat.add_argument("--hide-reasoning", action="store_true", help="do not print a thinking model's reasoning")
    chat.add_argument("--usage", action="store_true", help="print the token usage on stderr at the end")

    parser.set_defaults(subparsers={"models": models, "chat": chat})
    # The emulator keeps its own parser: everything after the command goes to it as is.
    commands.add_parser("emulator", add_help=False, help="run the local A2Agent emulator (a2agent emulator -h)",
                        description="Run the local A2Agent-compatible emulator.")
    return parser


# -- output ----------------------------------------------------------------------------------------
def _tty_colour(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb" and stream.isatty()


class _Printer:
    """The answer to stdout as it arrives; reasoning apart on stderr, between labels (dimmed on a
    terminal), unless hidden. Each write is flushed so the two streams interleave in order."""

    def __init__(self, show_reasoning: bool) -> None:
        self.show_reasoning = show_reasoning
        self.dim = _tty_colour(sys.stderr)
        self.in_reasoning = False
        self.reasoning_tail = ""
        self.answer_open = False  # an answer line was started and not ended with a newline

    def reasoning(self, text: str | None) -> None:
        if not text or not self.show_reasoning:
            return
        if not self.in_reasoning:
            # Reasoning after some answer (rare): start on a fresh terminal line, leaving stdout untouched.
            start = "\n" if self.answer_open else ""
            sys.stdout.flush()
            sys.stderr.write(f"{start}\033[2m[reasoning]\n" if self.dim else f"{start}[reasoning]\n")
            self.in_reasoning = True
        sys.stderr.write(text)
        sys.stderr.flush()
        self.reasoning_tail = text[-1]

    def answer(self, text: str | None) -> None:
        if not text:
            return
        self._end_reasoning()
        sys.stdout.write(text)
        sys.stdout.flush()
        self.answer_open = not text.endswith("\n")

    def _end_reasoning(self) -> None:
        if self.in_reasoning:
            newline = "" if self.reasoning_tail == "\n" else "\n"
            sys.stderr.write(f"{newline}[/reasoning]\033[0m\n" if self.dim else f"{newline}[/reasoning]\n")
            sys.stderr.flush()
            self.in_reasoning = False

    def _end_answer_line(self) -> None:
        if self.answer_open:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.answer_open = False

    def finish(self) -> None:
        self._end_reasoning()
        self._end_answer_line()


def _note(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def _usage_line(usage: Any) -> str:
    if not isinstance(usage, dict) or not usage:
        return "usage: not reported by the gateway"
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    total = usage.get("total_tokens")
    if total is None and isinstance(prompt, int) and isinstance(completion, int):
        total = prompt + completion
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    line = f"usage: {prompt} prompt + {completion} completion = {total} tokens"
    extras = ([f"{reasoning} reasoning"] if reasoning else []) + ([f"{cached} cached"] if cached else [])
    return f"{line} ({', '.join(extras)})" if extras else line


# -- commands --------------------------------------------------------------------------------------
def _client(args: argparse.Namespace, api_format: str = "openai") -> A2AgentClient:
    key = args.api_key if args.api_key is not None else os.environ.get("A2AGENT_API_KEY")
    if key is None or not key.strip():
        raise InvalidInputError(_KEY_HELP)
    client = A2AgentClient(api_key=key, base_url=args.base_url, timeout=args.timeout,
                           max_retries=args.max_retries, api_format=api_format)
    if args.verbose:
        log.info("a2agent: gateway %s, %s format", client.base_url, client.api_format)
    return client


def _log_request(client: A2AgentClient, method: str, endpoint: str, model: str | None = None) -> None:
    """-v: one line for the request about to be sent (each retry of it gets the core's own line):
    method, URL path and model; never the key, never a header."""
    path = urlsplit(client.base_url).path + endpoint
    log.info("a2agent: %s %s%s", method, path, f" (model {model})" if model else "")


def _models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _log_request(client, "GET", "/models")
        listed = client.list_models()
    rows: list[dict[str, Any]] = []
    for model in sorted(listed, key=lambda m: str(m.get("id", ""))):
        model_id = str(model.get("id", ""))
        profile = MODEL_PROFILES.get(model_id)
        rows.append({
            "id": model_id,
            "owned_by": model.get("owned_by") or (profile.owned_by if profile else None),
            "known": profile is not None,
            "context_window": profile.context_window if profile else None,
            "max_output_tokens": profile.max_output_tokens if profile else None,
            "tools": profile.tools if profile else None,
            "vision": profile.vision if profile else None,
            "reasoning": profile.reasoning if profile else None,
        })
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK

    def cell(value: Any) -> str:
        if value is None:
            return "?"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    columns = [("MODEL", "id", "<"), ("OWNER", "owned_by", "<"), ("CONTEXT", "context_window", ">"),
               ("MAX OUTPUT", "max_output_tokens", ">"), ("TOOLS", "tools", "<"), ("VISION", "vision", "<"),
               ("REASONING", "reasoning", "<")]
    table = [[title for title, _, _ in columns]] + [[cell(row[field]) for _, field, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        text = "  ".join(f"{value:{align}{width}}" for value, (_, _, align), width in zip(line, columns, widths,
                                                                                          strict=True))
        sys.stdout.write(text.rstrip() + "\n")
    if not rows:
        _note("the gateway listed no models")
    return EXIT_OK


def _read_stdin() -> str | None:
    """stdin's text to its end, or None when stdin is a terminal (or closed): a terminal is never
    waited on. Any stdin that is not a terminal is read, so a caller that leaves an open pipe as
    stdin must give ``</dev/null``."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    try:
        return sys.stdin.read()
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"stdin is not {exc.encoding} text ({exc.reason} at byte {exc.start})") from None


def _read_prompt(words: list[str]) -> str:
    """The prompt: the words, and any text piped in after them and a blank line (``git diff | a2agent
    chat "Review this diff"``, as the ``llm`` CLI does); stdin alone when there are no words or ``-``.
    An empty stdin adds nothing; a blank prompt is refused before anything is sent. Trailing
    whitespace of stdin is dropped (a final newline would be a billed token)."""
    if words and words != ["-"]:
        prompt = " ".join(words)
        if not prompt.strip():
            raise InvalidInputError("no prompt: the prompt argument is blank")
        piped = _read_stdin()
        piped = piped.rstrip() if piped else ""
        return f"{prompt}\n\n{piped}" if piped else prompt
    piped = _read_stdin()
    if piped is None:
        raise InvalidInputError("no prompt: give it as an argument (a2agent chat \"...\") or on stdin "
                                "(echo ... | a2agent chat)")
    prompt = piped.rstrip()
    if not prompt:
        raise InvalidInputError("no prompt: stdin was empty")
    return prompt


def _chat(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args.prompt)
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    payload: dict[str, Any] = {"model": args.model, "messages": messages}
    if args.temperature is not None:
        payload["temperature"] = args.temperature
    if args.max_tokens is not None:
        payload["max_tokens"] = args.max_tokens
    if args.stream:
        payload["stream_options"] = {"include_usage": True}
    validate_chat_payload(payload)  # a refused payload is never logged as sent
    printer = _Printer(show_reasoning=not args.hide_reasoning)
    with _client(args, args.api_format) as client:
        _log_request(client, "POST", get_codec(client.api_format).chat_path, args.model)
        if args.stream:
            with client.stream_chat_completions(payload) as stream:
                for chunk in stream:
                    for choice in chunk.get("choices") or ():
                        if choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta") or {}
                        printer.reasoning(delta.get("reasoning_content"))
                        printer.answer(delta.get("content"))
                completion = stream.get_final_completion()
        else:
            completion = client.chat_completions(payload)
            message = (completion.get("choices") or [{}])[0].get("message") or {}
            printer.reasoning(message.get("reasoning_content"))
            printer.answer(message.get("content"))
    printer.finish()
    choices = completion.get("choices") or [{}]
    if choices[0].get("finish_reason") == "length":
        _note("note: the answer was cut at the token limit (finish_reason: length)")
    if args.usage:
        sys.stderr.write(_usage_line(completion.get("usage")) + "\n")
    return EXIT_OK


def _emulator(argv: list[str]) -> int:
    try:
        from .emulator._server import main as emulator_main
    except ModuleNotFoundError as exc:
        from ._extras import missing_extra
        from .emulator import _EXTRA_MODULES

        if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        _note(f"error: {missing_extra(exc, 'a2agent emulator', 'emulator')}")
        return EXIT_USAGE  # a setup error, nothing was sent: not status 1 (API or network error)
    emulator_main(argv, prog=f"{PROG} emulator", epilog=_EMULATOR_EXAMPLES)
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------------------
def _known_secrets(argv: Sequence[str]) -> list[str]:
    """The key from the environment and from ``--api-key`` (or an abbreviation argparse accepts,
    ``--api``), before parsing: a usage error may quote any argument."""
    found = [os.environ.get("A2AGENT_API_KEY", "")]
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if len(name) > 3 and "--api-key".startswith(name):
            found.append(value if eq else argv[i + 1] if i + 1 < len(argv) else "")
    return sorted({s.strip() for s in found if s.strip()}, key=len, reverse=True)


def _quiet_stdout() -> None:
    """stdout's reader went away (``| head``): point stdout at /dev/null so the interpreter's final
    flush cannot fail again and print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _run(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "emulator":
        return _emulator(extra)
    if extra:
        args.subparsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return _models(args) if args.command == "models" else _chat(args)
    except InvalidInputError as exc:  # refused before anything was sent: a usage error
        _note(f"error: {_one_line(exc)}")
        return EXIT_USAGE
    except A2AgentError as exc:
        _note(f"error: {_one_line(exc)}")
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    return _hide(" ".join(str(exc).split()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script passes it to ``sys.exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _SECRETS[:] = _known_secrets(args)
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C: end the line (and any dimming), no traceback
        sys.stderr.write("\033[0m\n" if _tty_colour(sys.stderr) else "\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
