# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The one parser of this package's environment variables.

Each reader takes the variable's name and its default, and returns a typed value. An unset or
empty variable gives the default; an invalid one is logged once, by name, and gives the default,
as the OpenTelemetry SDK does with its own variables. The value itself is never logged: it may be a
secret or a path that says more than it should. The typed configuration objects (the exporter's,
the recorder's) are read through these functions once, when they are built.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TypeVar

from opentelemetry_instrumentation_toolaudit._log import logger

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_warned: set[str] = set()
_warned_lock = threading.Lock()

T = TypeVar("T", int, float)


def _raw(name: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(name, "").strip()


def invalid(name: str, expected: str, default: object) -> None:
    """Log, once per variable, that ``name`` holds something other than ``expected``."""
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    logger.warning(
        "toolaudit: %s is invalid (expected %s); using the default %s", name, expected, default
    )


def read_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """An integer (at least ``minimum``), or ``default``."""
    return _number(name, default, int, minimum, environ)


def read_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    """A number (at least ``minimum``), or ``default``."""
    return _number(name, default, float, minimum, environ)


def _number(
    name: str,
    default: T,
    kind: type[T],
    minimum: T | None,
    environ: Mapping[str, str] | None,
) -> T:
    raw = _raw(name, environ)
    if not raw:
        return default
    expected = "an integer" if kind is int else "a number"
    if minimum is not None:
        expected += f" >= {minimum}"
    try:
        value = kind(raw)
    except ValueError:
        invalid(name, expected, default)
        return default
    if value != value or (minimum is not None and value < minimum):  # NaN, or below the bound
        invalid(name, expected, default)
        return default
    return value


def read_bool(
    name: str,
    default: bool,
    *,
    on_invalid: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off`` (any case), or ``default``
    (``on_invalid``, when given, for a value that is neither: a safety switch fails safe)."""
    raw = _raw(name, environ).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    fallback = default if on_invalid is None else on_invalid
    invalid(name, "true or false", str(fallback).lower())
    return fallback


def read_choice(
    name: str,
    default: str,
    choices: Collection[str],
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """One of ``choices`` (compared in lower case), or ``default``."""
    raw = _raw(name, environ).lower()
    if not raw:
        return default
    if raw in choices:
        return raw
    invalid(name, "one of " + ", ".join(choices), default)
    return default


def read_list(name: str, *, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The comma-separated items of ``name``, stripped, empty ones left out."""
    return tuple(item.strip() for item in _raw(name, environ).split(",") if item.strip())


def read_path(name: str, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """A path (``~`` expanded), or None when unset."""
    raw = _raw(name, environ)
    return Path(raw).expanduser() if raw else None


def read_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    """The stripped value of ``name``, or ``default`` when unset or empty."""
    return _raw(name, environ) or default
