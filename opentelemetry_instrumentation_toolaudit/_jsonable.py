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

_SCALARS = (bool, int, str, type(None))


def _clean_str(value: str) -> str:
    if len(value) > MAX_STRING:
        value = f"{value[:MAX_STRING]}…[+{len(value) - MAX_STRING} chars]"
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be exported (protobuf requires valid UTF-8): keep them visible, escaped.
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _flat_scalar_dict(value: Any) -> bool:
    """Whether ``value`` is a small dict of short ASCII strings, ints, bools and None (the usual call)."""
    if type(value) is not dict or len(value) > MAX_ITEMS:
        return False
    for key, item in value.items():
        if type(key) is not str or len(key) > MAX_STRING or not key.isascii():
            return False
        kind = type(item)
        if kind is str:
            if len(item) > MAX_STRING or not item.isascii():
                return False
        elif kind is not int and kind is not bool and item is not None:
            return False
    return True


def to_jsonable(value: Any, _depth: int = 0, _seen: set[int] | None = None) -> Any:
    """A JSON-safe copy of ``value``: dict keys become strings, cycles become ``"<cycle>"``."""
    if _depth == 0 and _flat_scalar_dict(value):
        return value
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        return _float(value)
    if _depth >= MAX_DEPTH:
        return "<max depth>"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<bytes len={len(value)}>"
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth + 1, _seen)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if _seen is None:
        _seen = set()
    if id(value) in _seen:
        return "<cycle>"
    _seen.add(id(value))
    try:
        return _container(value, _depth, _seen)
    except Exception:  # noqa: BLE001 - a hostile container (items() raising...) is marked, not fatal
        return f"<{type(value).__name__}: unreadable>"
    finally:
        _seen.discard(id(value))


def _container(value: Any, _depth: int, _seen: set[int]) -> Any:
    """A JSON-safe copy of a mapping, sequence or model (the recursive part of to_jsonable)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["_truncated_items"] = len(value) - MAX_ITEMS
                break
            out[_key(key)] = to_jsonable(item, _depth + 1, _seen)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        result = [to_jsonable(v, _depth + 1, _seen) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            result.append(f"<+{len(items) - MAX_ITEMS} items>")
        return result
    dumped = _model_dump(value)
    if dumped is not None:
        return to_jsonable(dumped, _depth + 1, _seen)
    return f"<{type(value).__name__}>"


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _clean_str(key)
    if isinstance(key, float):
        return str(_float(key))
    if isinstance(key, (int, bool, type(None), enum.Enum)):
        return str(key.value if isinstance(key, enum.Enum) else key)
    return f"<{type(key).__name__}>"


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
