# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Name a call's arguments after the function's parameters, cheaply.

``inspect.Signature.bind`` costs several microseconds a call; the parameter layout is read once
per function instead and applied with a zip.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SKIPPED_FIRST = ("self", "cls")


class ArgumentNamer:
    """Maps ``(args, kwargs)`` of calls to one function onto ``{parameter: value}``."""

    __slots__ = ("_names", "_skip_first", "_varargs")

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self._names = tuple(p.name for p in params if p.kind in positional)
        self._varargs = next(
            (p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None
        )
        self._skip_first = bool(self._names) and self._names[0] in _SKIPPED_FIRST

    @property
    def skips_first(self) -> bool:
        """Whether the first positional parameter is ``self``/``cls`` and is left out."""
        return self._skip_first

    def name(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], *, bound: bool = False
    ) -> dict[str, Any]:
        """The named arguments; ``bound`` means ``args`` already lacks ``self`` (a bound method call)."""
        names = self._names[1:] if self._skip_first and bound else self._names
        if self._skip_first and not bound:
            args = args[1:]
            names = self._names[1:]
        named = dict(zip(names, args, strict=False))
        if len(args) > len(names):
            named[self._varargs or "args"] = list(args[len(names) :])
        if kwargs:
            named.update(kwargs)
        return named


def first_doc_line(fn: Callable[..., Any]) -> str | None:
    """The first non-empty line of ``fn``'s docstring."""
    doc = inspect.getdoc(fn)
    if not doc:
        return None
    return doc.strip().splitlines()[0].strip() or None
