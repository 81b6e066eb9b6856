# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which finished spans a ``RedactingSpanProcessor`` has checked, and under which rules.

The audit exporter's content guard checks every record once more before it becomes permanent; a
span the redacting processor already checked under the same rules need not have the same values
scanned twice. The processor marks the span object it hands downstream (the span itself when
nothing was redacted, else its redacted copy); the mark lives here, beside the span, never in its
attributes, so no exporter sends it and no other path can forge it. A span that reaches an
exporter any other way (another SDK, a receiver, a hand-built ``ReadableSpan``) carries no mark.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, NamedTuple


class CheckMark(NamedTuple):
    """How a span was checked: under ``rules`` (``RedactionPolicy.rules_id``), and whether the
    attributes this package's recorder redacts at the source were skipped (``source_skipped``)."""

    rules: tuple[Any, ...]
    source_skipped: bool


_marks: weakref.WeakKeyDictionary[Any, CheckMark] = weakref.WeakKeyDictionary()


def mark_checked(span: Any, mark: CheckMark) -> None:
    """Record that ``span`` (as handed downstream) was checked as ``mark`` says."""
    # A span type without weak references goes unmarked, and is scanned in full.
    with contextlib.suppress(TypeError):
        _marks[span] = mark


def check_mark(span: Any) -> CheckMark | None:
    """How ``span`` was checked by a redacting processor, or None if it was not."""
    try:
        return _marks.get(span)
    except TypeError:
        return None
