"""The redacted stack trace of a tool's exception, and the ``exception`` event that carries it.

A tool that raises usually raises from the same few places, call after call. Its stack trace is the
frames (file, line, function, source line: the code's, the same every time) and then the exception
itself (type and message: the data's). The frames' text is formatted and redacted once per distinct
path through the code and reused; the exception's own lines are formatted and redacted on every call,
as is the whole trace whenever the exception is chained or carries notes. The text is the one
``traceback.format_exception`` writes, redacted piece by piece: a frame's text ends with its source
line and the next piece starts with ``  File`` or the exception's type, so no finding spans two.
"""

from __future__ import annotations

import collections
import threading
import traceback
from types import CodeType, TracebackType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy

MAX_PATHS = 512
"""Distinct paths through the code whose redacted frames are kept."""
_HEADER = "Traceback (most recent call last):\n"

_Path = tuple[tuple[CodeType, int], ...]


class _FrameCache:
    """Redacted frame text, and its findings, per (policy, path through the code)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policy: RedactionPolicy | None = None
        self._texts: dict[_Path, tuple[str, tuple[str, ...]]] = {}

    def frames(
        self, policy: RedactionPolicy, tb: TracebackType | None, found: dict[str, int]
    ) -> str:
        path = _path(tb)
        with self._lock:
            if policy is not self._policy:
                self._policy, self._texts = policy, {}
            entry = self._texts.get(path)
        if entry is None:
            kinds: dict[str, int] = collections.defaultdict(int)
            text = "".join(
                policy.redact_collect(chunk, kinds)
                for chunk in traceback.StackSummary.extract(traceback.walk_tb(tb)).format()
            )
            entry = (text, tuple(kind for kind, n in kinds.items() for _ in range(n)))
            with self._lock:
                if len(self._texts) >= MAX_PATHS:
                    self._texts.clear()
                self._texts[path] = entry
        for kind in entry[1]:
            found[kind] += 1
        return entry[0]


def _path(tb: TracebackType | None) -> _Path:
    """The code objects and instruction offsets the traceback went through (what its text depends
    on: file, line, function, source line and the position markers under it)."""
    path = []
    while tb is not None:
        path.append((tb.tb_frame.f_code, tb.tb_lasti))
        tb = tb.tb_next
    return tuple(path)


_FRAMES = _FrameCache()


def redacted_stacktrace(exc: BaseException, policy: RedactionPolicy, found: dict[str, int]) -> str:
    """``traceback.format_exception(exc)`` joined, redacted by ``policy`` (findings added to ``found``)."""
    if (
        exc.__cause__ is not None
        or (exc.__context__ is not None and not exc.__suppress_context__)
        or getattr(exc, "__notes__", None)
        or exc.__traceback__ is None
    ):
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return policy.redact_collect(text, found)  # type: ignore[no-any-return]
    frames = _FRAMES.frames(policy, exc.__traceback__, found)
    last = "".join(traceback.format_exception_only(type(exc), exc))
    return _HEADER + frames + policy.redact_collect(last, found)


def exception_event_attributes(exc: BaseException, message: str, stacktrace: str) -> dict[str, Any]:
    """The attributes ``Span.record_exception`` gives its ``exception`` event (escaped), with the
    redacted message and stack trace: the SDK's method would format the trace a second time."""
    module = type(exc).__module__
    qualname = type(exc).__qualname__
    return {
        attrs.EXCEPTION_TYPE: f"{module}.{qualname}"
        if module and module != "builtins"
        else qualname,
        attrs.EXCEPTION_MESSAGE: message,
        attrs.EXCEPTION_STACKTRACE: stacktrace,
        attrs.EXCEPTION_ESCAPED: "True",
    }
