# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The message and stack trace recorded for a tool's exception: bounded first, then redacted.

A tool may raise with a message of megabytes, a ``__str__`` that raises, or a chain of thousands of
``__cause__``/``__context__`` links. The app's thread must not pay for any of that: each text is cut
to its bound *before* it is redacted, so the work done here does not grow with the exception. Redaction
looks a little past each cut (``MARGIN`` characters) so that a secret the cut crosses is still
recognised, and what it could not see whole is dropped rather than kept. A secret longer than
``MARGIN`` that crosses a cut may be recognised only in part.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from types import TracebackType

MAX_ERROR_MESSAGE = 512
"""Characters of ``exception.message`` kept (its start)."""
MAX_STACKTRACE = 16384
"""Characters of ``exception.stacktrace`` kept (its start and end)."""
MAX_CHAINED = 3
"""Exceptions of a ``__cause__``/``__context__`` chain shown in the stack trace (the newest)."""
MAX_FRAMES = 32
"""Frames shown of each traceback (its first and last half)."""
MAX_FRAMES_TEXT = 4096
"""Characters of one traceback's frames kept (their start and end)."""
MAX_COUNTED = 10_000
"""Older exceptions of a chain counted for the stack trace's note; a longer chain is not walked."""
MARGIN = 1024
"""Characters redaction reads past a cut, and drops from what it returns there."""
STR_FAILED = "<exception str() failed>"
"""The message of an exception whose ``str()`` raised (as the ``traceback`` module shows it)."""

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
_HEADER = "Traceback (most recent call last):\n"

Redact = Callable[[str], str]


def exception_message(exc: BaseException) -> str:
    """``str(exc)``, or STR_FAILED when that raises (RecursionError for a deeply nested value...)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - any failure of the app's __str__ gives the marker
        return STR_FAILED
    return text if type(text) is str else STR_FAILED


def redacted_head(text: str, limit: int, redact: Redact) -> str:
    """The first ``limit`` characters of ``text``, redacted, reading at most ``limit + MARGIN``."""
    if len(text) <= limit:
        return redact(text)[:limit]
    window = redact(text[: limit + MARGIN])
    if len(text) <= limit + MARGIN:
        return window[:limit]
    # The window's end may cut a secret in two: its first part, perhaps unrecognised, is dropped.
    return window[: max(0, min(limit, len(window) - MARGIN))]


def redacted_tail(text: str, limit: int, redact: Redact) -> str:
    """The last ``limit`` characters of ``text``, redacted, reading at most ``limit + MARGIN``."""
    if len(text) <= limit:
        window = redact(text)
        return window[max(0, len(window) - limit) :]
    window = redact(text[-(limit + MARGIN) :])
    keep = limit if len(text) <= limit + MARGIN else max(0, min(limit, len(window) - MARGIN))
    return window[len(window) - keep :]


def redacted_bounded(text: str, limit: int, redact: Redact) -> str:
    """``text`` redacted; when longer than ``limit``, its start and end with the middle cut out."""
    if len(text) <= limit:
        return redact(text)
    half = limit // 2
    return (
        f"{redacted_head(text, half, redact)}\n...[{len(text) - 2 * half} characters cut]...\n"
        f"{redacted_tail(text, half, redact)}"
    )


def cut_middle(text: str, limit: int) -> str:
    """``text``, its middle cut out when longer than ``limit`` (for text that is already redacted)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n...[{len(text) - 2 * half} characters cut]...\n{text[-half:]}"


def type_name(exc: BaseException, *, unqualified: tuple[str, ...] = ("builtins",)) -> str:
    """The exception's type as ``exception.type`` names it: ``module.Qualname``, builtins
    unqualified (a traceback also leaves ``__main__`` out: ``unqualified``)."""
    cls = type(exc)
    module = cls.__module__
    if not module or not isinstance(module, str) or module in unqualified:
        return str(cls.__qualname__)
    return f"{module}.{cls.__qualname__}"


def stacktrace(exc: BaseException, message: str, redact: Redact) -> str:
    """The stack trace of ``exc`` as the ``traceback`` module prints it, redacted and bounded:
    the newest MAX_CHAINED exceptions of its chain, MAX_FRAMES frames of each, each message cut at
    MAX_ERROR_MESSAGE (``message`` is the redacted message of ``exc`` itself)."""
    chain, older = _chain(exc)
    parts = [f"[{older} earlier chained exceptions not shown]\n\n"] if older else []
    for index, (item, link) in enumerate(chain):
        if index:
            parts.append(link)
        text = (
            message
            if item is exc
            else redacted_head(exception_message(item), MAX_ERROR_MESSAGE, redact)
        )
        parts.append(_block(item, text, redact))
    return cut_middle("".join(parts), MAX_STACKTRACE)


def _chain(exc: BaseException) -> tuple[list[tuple[BaseException, str]], int]:
    """The newest MAX_CHAINED exceptions of ``exc``'s chain, oldest first, each with the line that
    links it to the one before; and how many older ones are left out (counted up to MAX_COUNTED)."""
    newest_first: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    older = 0
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and older < MAX_COUNTED:
        seen.add(id(current))
        cause = current.__cause__
        if cause is not None:
            link, following = _CAUSE, cause
        elif current.__context__ is not None and not current.__suppress_context__:
            link, following = _CONTEXT, current.__context__
        else:
            link, following = "", None
        if len(newest_first) < MAX_CHAINED:
            newest_first.append((current, link))
        else:
            older += 1
        current = following
    return newest_first[::-1], older


def _block(exc: BaseException, message: str, redact: Redact) -> str:
    """One exception of the chain: its frames (redacted, bounded) and its ``Type: message`` line."""
    name = type_name(exc, unqualified=("builtins", "__main__"))
    line = f"{name}: {message}\n" if message else f"{name}\n"
    tb = exc.__traceback__
    if tb is None:
        return line
    return f"{_HEADER}{redacted_bounded(_frames(tb), MAX_FRAMES_TEXT, redact)}{line}"


def _frames(tb: TracebackType) -> str:
    """The frames of ``tb`` as the ``traceback`` module prints them, the middle ones left out."""
    frames = list(traceback.walk_tb(tb))
    if len(frames) <= MAX_FRAMES:
        return "".join(traceback.StackSummary.extract(iter(frames)).format())
    half = MAX_FRAMES // 2
    head = "".join(traceback.StackSummary.extract(iter(frames[:half])).format())
    tail = "".join(traceback.StackSummary.extract(iter(frames[-half:])).format())
    return f"{head}  [... {len(frames) - 2 * half} frames not shown ...]\n{tail}"
