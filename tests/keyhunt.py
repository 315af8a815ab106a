"""The exhaustive hunt for API keys in everything an error carries, shared by every test.

``assert_no_key`` searches str/repr/args, every attribute and property (recursively through
containers), headers, bodies, the ``__cause__``/``__context__`` chain (httpx exceptions must not
carry a request with the Authorization header), the formatted traceback, log records and warnings.
tests/conftest.py runs it over every a2agent error any test creates; the fault suite runs it with
the captured DEBUG logs and warnings of each test too.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

_SCALARS = (int, float, complex, bool, type(None))
_MAX_DEPTH = 10


class _Hunt:
    def __init__(self, keys: Iterable[str], parts: Iterable[str] = ()) -> None:
        self.needles = [(key, "the key") for key in keys] + [(part, "part of the key") for part in parts]
        self.seen: set[int] = set()
        self.problems: list[str] = []

    def text(self, text: str, where: str) -> None:
        for needle, what in self.needles:
            if needle in text:
                self.problems.append(f"{where} contains {what}")
                return

    def obj(self, obj: Any, where: str, depth: int = 0) -> None:
        if isinstance(obj, _SCALARS) or depth > _MAX_DEPTH:
            return
        if isinstance(obj, str):
            self.text(obj, where)
            return
        if isinstance(obj, bytes | bytearray | memoryview):
            raw = bytes(obj)
            self.text(raw.decode("latin-1"), where)
            return
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if isinstance(obj, type) or (callable(obj) and not isinstance(obj, BaseException)):
            return
        try:
            self.text(repr(obj), f"repr({where})")
            self.text(str(obj), f"str({where})")
        except Exception as exc:  # a repr that raises is a bug too, but not this hunt's
            self.problems.append(f"repr/str of {where} raised {type(exc).__name__}")
        if isinstance(obj, Mapping) or _is_httpx(obj, "Headers"):
            for k, v in list(obj.items()):
                self.obj(k, f"{where} key", depth + 1)
                self.obj(v, f"{where}[{k!r}]", depth + 1)
            return
        if isinstance(obj, list | tuple | set | frozenset):
            for i, item in enumerate(obj):
                self.obj(item, f"{where}[{i}]", depth + 1)
            return
        if isinstance(obj, BaseException):
            self.exception(obj, where, depth)
            return
        if _is_httpx(obj, "Request"):
            self.obj(obj.headers, f"{where}.headers", depth + 1)
            self.obj(str(obj.url), f"{where}.url", depth + 1)
            return
        if _is_httpx(obj, "Response"):
            self.obj(obj.headers, f"{where}.headers", depth + 1)
            with contextlib.suppress(Exception):
                self.obj(obj.content, f"{where}.content", depth + 1)
            with contextlib.suppress(RuntimeError):
                self.obj(obj.request, f"{where}.request", depth + 1)
            return
        self.attributes(obj, where, depth)

    def attributes(self, obj: Any, where: str, depth: int) -> None:
        with contextlib.suppress(TypeError):
            for name, value in vars(obj).items():
                self.obj(value, f"{where}.{name}", depth + 1)
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()) or ():
                if isinstance(name, str) and hasattr(obj, name):
                    with contextlib.suppress(Exception):
                        self.obj(getattr(obj, name), f"{where}.{name}", depth + 1)

    def exception(self, exc: BaseException, where: str, depth: int) -> None:
        self.obj(exc.args, f"{where}.args", depth + 1)
        self.attributes(exc, where, depth)
        self.obj(getattr(exc, "__notes__", None), f"{where}.__notes__", depth + 1)
        if _is_a2agent(exc):  # properties too (message, code, body, headers, url, ...)
            for name in dir(exc):
                if name.startswith("_") or name in ("args", "with_traceback", "add_note"):
                    continue
                try:
                    value = getattr(exc, name)
                except Exception:
                    continue
                if not callable(value):
                    self.obj(value, f"{where}.{name}", depth + 1)
        if type(exc).__module__.startswith(("httpx", "httpcore")):
            try:
                request = exc.request  # type: ignore[attr-defined]
            except (RuntimeError, AttributeError):
                request = None
            if request is not None:
                self.obj(request, f"{where}.request", depth + 1)
        self.obj(exc.__cause__, f"{where}.__cause__", depth + 1)
        self.obj(exc.__context__, f"{where}.__context__", depth + 1)


def _is_httpx(obj: Any, name: str) -> bool:
    return type(obj).__name__ == name and type(obj).__module__.startswith("httpx")


def _is_a2agent(obj: Any) -> bool:
    return any(c.__module__.startswith("a2agent") for c in type(obj).__mro__)


def assert_no_key(exc: BaseException | None, key: str | Iterable[str], *, parts: Iterable[str] = (),
                  caplog: pytest.LogCaptureFixture | None = None,
                  recwarn: pytest.WarningsRecorder | None = None, with_traceback: bool = True) -> None:
    """Fail if ``key`` (or any of several keys, or one of ``parts``) is anywhere in ``exc``:
    str/repr/args, every attribute and property (recursively through containers), headers, body,
    the ``__cause__``/``__context__`` chain (httpx exceptions must not carry a request with the
    Authorization header), the formatted traceback text, every log record, every warning."""
    hunt = _Hunt([key] if isinstance(key, str) else key, parts)
    if exc is not None:
        hunt.obj(exc, "exc")
        if with_traceback:  # its source lines are test code: off where tests write keys as literals
            with contextlib.suppress(Exception):
                hunt.text("".join(traceback.format_exception(exc)), "the formatted traceback")
    if caplog is not None:
        hunt.text(caplog.text, "the captured log")
        for i, record in enumerate(caplog.records):
            try:
                hunt.text(record.getMessage(), f"log record {i} ({record.name})")
            except Exception:
                hunt.text(str(record.msg), f"log record {i} ({record.name})")
            hunt.obj(record.args, f"log record {i} args")
            if record.exc_info and record.exc_info[1] is not None:
                hunt.obj(record.exc_info[1], f"log record {i} exc_info")
    if recwarn is not None:
        for i, warning in enumerate(recwarn.list):
            hunt.text(str(warning.message), f"warning {i}")
            hunt.obj(getattr(warning.message, "args", ()), f"warning {i} args")
    assert not hunt.problems, "the API key leaked:\n  " + "\n  ".join(dict.fromkeys(hunt.problems))
