# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The one canonical byte form of an audit record: RFC 8785 (JSON Canonicalization Scheme).

``json.dumps(sort_keys=True)`` is not canonical in general: it sorts keys by code point rather than
UTF-16 units, prints ``-0.0`` and ``NaN``, and formats some floats differently. Records are hashed and
signed, so their bytes must be reproducible by any verifier in any language.

The ``rfc8785`` package is the reference but is pure Python (tens of microseconds a record). Most
records qualify for a fast path where ``orjson`` (the ``fast`` extra) or else the stdlib C ``json``
encoder produces exactly the RFC 8785 bytes: every key ASCII (code-point order equals UTF-16 order),
no float outside the range where the shortest round-trip form is printed as ECMAScript's
``Number.prototype.toString`` prints it, no integer beyond 2^53, every string valid UTF-8.
:func:`canonical_bytes` takes the fast path when it applies and ``rfc8785`` otherwise;
``tests/audit/test_canonical.py`` checks both fast encoders against ``rfc8785`` on generated values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import rfc8785

from opentelemetry_instrumentation_toolaudit._exceptions import CanonicalizationError
from opentelemetry_instrumentation_toolaudit._jsonable import int_text
from opentelemetry_instrumentation_toolaudit.ledger.schema import FIELDS

MAX_SAFE_INTEGER = 2**53 - 1


def _no_default(value: Any) -> Any:
    raise TypeError(type(value).__qualname__)


try:  # orjson (the ``fast`` extra) is several times quicker than the C ``json`` encoder.
    import orjson

    _ORJSON_OPTIONS = (
        orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER | orjson.OPT_PASSTHROUGH_SUBCLASS
    )

    def _encode_clean(value: Any) -> bytes:
        return orjson.dumps(value, option=_ORJSON_OPTIONS)

    # orjson raises for a key that is not exactly a str, so a key equal to a record field name (all
    # ASCII) needs no check of its own: one set test in C covers a whole record's keys.
    _KNOWN_KEYS: frozenset[str] = FIELDS

except ImportError:  # pragma: no cover - exercised where orjson is absent
    _KNOWN_KEYS = frozenset()

    def _encode_clean(value: Any) -> bytes:
        return "".join(_c_encode(value, 0)).encode("utf-8")


# The C encoder built once (``JSONEncoder.encode`` rebuilds it on every call). No cycle markers: the
# walk in ``_clean`` runs first and a cycle ends it with RecursionError.
if json.encoder.c_make_encoder is not None:  # type: ignore[attr-defined]
    _c_encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _no_default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
else:  # pragma: no cover - interpreters without the C accelerator
    _encoder = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
    )

    def _c_encode(value: Any, _level: int) -> list[str]:
        return [_encoder.encode(value)]


class _NeedsReferenceError(Exception):
    """The value needs the reference encoder."""


def _escape_surrogates(value: str) -> str:
    # A lone surrogate has no UTF-8 form: keep it visible as its escape text, as the recorder does.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def prepare(value: Any) -> Any:
    """A copy of ``value`` that RFC 8785 accepts: NaN/±Infinity become strings, -0.0 becomes 0,
    integers beyond ±(2^53 - 1) become strings of their digits (``"<int bits=N>"`` when too wide to
    print), tuples become lists, non-string keys become strings, lone surrogates become their
    ``\\udxxx`` escape text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _escape_surrogates(value)
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else int_text(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return 0 if value == 0 else value
    if isinstance(value, dict):
        return {prepare(_key_text(k)): prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [prepare(v) for v in value]
    raise CanonicalizationError(f"type {type(value).__qualname__} has no canonical JSON form")


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return int_text(key)
    return str(key)


_SIMPLE_TYPES = frozenset({str, bool, type(None)})


def _clean(value: Any) -> bool:
    """Whether the C encoder prints ``value`` exactly as RFC 8785 does, without any change (with
    orjson, keys equal to record field names are left to orjson's own check that keys are str)."""
    # The sealing hot path: one type test per value, keys checked by a set test where possible.
    t = type(value)
    if t is dict:
        if not _KNOWN_KEYS.issuperset(value):
            for k in value:
                if type(k) is not str or not k.isascii():
                    return False
        for v in value.values():
            t = type(v)
            if t in _SIMPLE_TYPES:
                continue
            if t is int:
                if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    return False
            elif not _clean(v):
                return False
        return True
    if t in _SIMPLE_TYPES:
        return True
    if t is list or t is tuple:
        for v in value:  # noqa: SIM110 - a loop is faster than all() over a generator here
            if type(v) is not str and not _clean(v):
                return False
        return True
    if t is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if t is float:
        # Integral floats print as integers in ECMAScript ("1", not "1.0"); in [1e-4, 1e16) Python's
        # shortest round-trip repr uses the same plain notation ECMAScript does.
        return not value.is_integer() and 1e-4 <= abs(value) < 1e16
    return False


def _fast(value: Any) -> Any:
    """``value`` with integral floats made ints, or _NeedsReferenceError when the C encoder would not be RFC 8785."""
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _NeedsReferenceError
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                raise _NeedsReferenceError
            out[k] = _fast(v)
        return out
    if t is list or t is tuple:
        return [_fast(v) for v in value]
    if t is float:
        if value.is_integer():
            if abs(value) <= MAX_SAFE_INTEGER:
                return int(value)
            raise _NeedsReferenceError
        if 1e-4 <= abs(value) < 1e16:
            return value
    raise _NeedsReferenceError


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of ``record`` (after :func:`prepare`)."""
    return canonicalize(record)[0]


def canonicalize(record: Mapping[str, Any]) -> tuple[bytes, bool]:
    """RFC 8785 bytes of ``record``, and whether they say exactly what ``record`` holds (True when
    no value had to be changed to get a canonical form, e.g. no NaN, big int or lone surrogate)."""
    try:
        if _clean(record):
            return _encode_clean(record), True
        return _encode_clean(_fast(record)), False
    except (
        _NeedsReferenceError,
        UnicodeEncodeError,
        ValueError,
        TypeError,
    ):  # orjson.JSONEncodeError is a TypeError
        pass
    except RecursionError:
        raise CanonicalizationError("a record nests too deeply (or contains a cycle)") from None
    try:
        return rfc8785.dumps(prepare(dict(record))), False
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
