# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Turn arbitrary tool arguments and results into bounded, JSON-safe values that never raise.

Tool arguments are whatever the model and the app produced: cycles, bytes, NaN, lone surrogates,
megabyte strings, objects with hostile ``__repr__``. Everything here is recorded as something safe
and bounded; nothing raises, and nothing is silently dropped without a marker saying so.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 12
MAX_ITEMS = 200
MAX_STRING = 2048
MAX_INT_BITS = 2048
"""Integers wider than this (about 616 decimal digits) are recorded as ``"<int bits=N>"``: printing
one costs time quadratic in its size, and Python refuses to print one of more than
``sys.get_int_max_str_digits()`` digits (at least 640)."""
_INT_BOUND = 1 << MAX_INT_BITS
_SCALAR_COST = 8
"""What a number, bool or null counts against a budget (its JSON is about that long)."""


def int_value(value: int) -> int | str:
    """``value`` itself, or ``"<int bits=N>"`` when it is wider than MAX_INT_BITS. Never raises."""
    if -_INT_BOUND < value < _INT_BOUND:
        return value
    return f"<int bits={value.bit_length()}>"


def int_text(value: int) -> str:
    """The decimal digits of ``value``, or ``"<int bits=N>"`` when it is wider than MAX_INT_BITS."""
    kept = int_value(value)
    return kept if isinstance(kept, str) else str(int(kept))


class _Budget:
    """Characters a copy may still take: a huge value is cut where the budget runs out, so the work
    done on it (copying, redacting, encoding) does not grow with its size."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _clean_str(value: str, budget: _Budget | None = None) -> str:
    limit = MAX_STRING
    if budget is not None:
        limit = max(0, min(limit, budget.left))
        budget.left -= min(len(value), limit) + 2
    if len(value) > limit:
        value = f"{value[:limit]}…[+{len(value) - limit} chars]"
    return exportable(value)


def exportable(text: str) -> str:
    """``text``, its lone surrogates (if any) written as their ``\\udxxx`` escape text."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be exported (protobuf requires valid UTF-8): keep them visible, escaped.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _flat_scalar_dict(value: Any, budget: int | None) -> bool:
    """Whether ``value`` is a small dict of short ASCII strings, ints, bools and None (the usual
    call), within ``budget`` characters when one is given."""
    if type(value) is not dict or len(value) > MAX_ITEMS:
        return False
    left = budget if budget is not None else MAX_ITEMS * 2 * MAX_STRING
    for key, item in value.items():
        if type(key) is not str or len(key) > MAX_STRING or not key.isascii():
            return False
        left -= len(key) + _SCALAR_COST
        kind = type(item)
        if kind is str:
            if len(item) > MAX_STRING or not item.isascii():
                return False
            left -= len(item)
        elif kind is int:
            if not -_INT_BOUND < item < _INT_BOUND:
                return False
        elif kind is not bool and item is not None:
            return False
    return left >= 0


def to_jsonable(value: Any, budget: int | None = None) -> Any:
    """A JSON-safe copy of ``value``: dict keys become strings, cycles become ``"<cycle>"``, integers
    too wide to print ``"<int bits=N>"``. With ``budget``, the copy holds about that many characters
    of content at most; what is past it is replaced by the usual markers. Never raises."""
    if _flat_scalar_dict(value, budget):
        return value
    return _jsonable(value, 0, None, None if budget is None else _Budget(budget))


def _jsonable(value: Any, _depth: int, _seen: set[int] | None, budget: _Budget | None) -> Any:
    if isinstance(value, str):
        return _clean_str(value, budget)
    if budget is not None:
        budget.left -= _SCALAR_COST
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int_value(value)
    if isinstance(value, float):
        return _float(value)
    if _depth >= MAX_DEPTH:
        return "<max depth>"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<bytes len={len(value)}>"
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, _depth + 1, _seen, budget)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return _clean_str(str(value), budget)
    if _seen is None:
        _seen = set()
    if id(value) in _seen:
        return "<cycle>"
    _seen.add(id(value))
    try:
        return _container(value, _depth, _seen, budget)
    except Exception:  # noqa: BLE001 - a hostile container (items() raising...) is marked, not fatal
        return f"<{type(value).__name__}: unreadable>"
    finally:
        _seen.discard(id(value))


def _spent(budget: _Budget | None) -> bool:
    return budget is not None and budget.left <= 0


def _container(value: Any, _depth: int, _seen: set[int], budget: _Budget | None) -> Any:
    """A JSON-safe copy of a mapping, sequence or model (the recursive part of to_jsonable)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS or _spent(budget):
                out["_truncated_items"] = len(value) - i
                break
            out[_key(key, budget)] = _jsonable(item, _depth + 1, _seen, budget)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        result = []
        # Only the items that can be kept are taken: a huge set or tuple is not copied whole.
        for i, item in enumerate(value):
            if i >= MAX_ITEMS or _spent(budget):
                result.append(f"<+{len(value) - i} items>")
                break
            result.append(_jsonable(item, _depth + 1, _seen, budget))
        return result
    dumped = _model_dump(value)
    if dumped is not None:
        return _jsonable(dumped, _depth + 1, _seen, budget)
    return f"<{type(value).__name__}>"


def _key(key: Any, budget: _Budget | None) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        # Keys are counted against the budget but never cut by it: a key names what follows.
        text = _clean_str(key)
    elif isinstance(key, float):
        text = str(_float(key))
    elif isinstance(key, bool) or key is None:
        text = str(key)
    elif isinstance(key, int):
        text = int_text(key)
    else:
        text = f"<{type(key).__name__}>"
    if budget is not None:
        budget.left -= len(text) + 3
    return text


def _model_dump(value: Any) -> Any:
    """Dataclasses and pydantic-style models as dicts; anything else None. Never raises."""
    try:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        dump = getattr(type(value), "model_dump", None)
        if callable(dump):
            return dump(value, mode="json")
    except Exception:  # noqa: BLE001 - a hostile model must not break recording
        return None
    return None


# One encoder for the process: json.dumps with options builds a new JSONEncoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON of an already JSON-safe value."""
    return _ENCODER.encode(value)


def bounded_dumps(value: Any, max_bytes: int) -> str:
    """JSON of a JSON-safe value; over ``max_bytes`` a valid JSON marker keeping the top-level keys."""
    text = dumps(value)
    size = len(text.encode("utf-8")) if not text.isascii() else len(text)
    if size <= max_bytes:
        return text
    marker: dict[str, Any] = {"_truncated": True, "_size": size}
    if isinstance(value, dict):
        marker["_keys"] = list(value)[:50]
    return dumps(marker)
