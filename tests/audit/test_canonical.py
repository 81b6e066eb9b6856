"""RFC 8785 canonical bytes: the fast path equals the reference encoder, and edge cases are safe."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from opentelemetry_instrumentation_toolaudit._exceptions import CanonicalizationError
from opentelemetry_instrumentation_toolaudit.audit._canonical import canonical_bytes, prepare

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
keys = st.text() | st.text(alphabet=st.characters(max_codepoint=127))
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=8))
def test_fast_path_equals_rfc8785(record):
    """For any JSON-like record, canonical_bytes equals rfc8785.dumps of the prepared record."""
    assert rfc8785.dumps(prepare(record)) == canonical_bytes(record)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=8))
def test_both_fast_encoders_equal_rfc8785(record):
    """Where the fast path applies, the stdlib C encoder and orjson (when installed) both print RFC 8785."""
    from opentelemetry_instrumentation_toolaudit.audit import _canonical

    if not _canonical._clean(record):
        record = _canonical.prepare(record)
        if not _canonical._clean(record):
            return
    expected = rfc8785.dumps(record)
    assert "".join(_canonical._c_encode(record, 0)).encode() == expected
    assert _canonical._encode_clean(record) == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_match_ecmascript_form(value):
    """Every finite float is printed as RFC 8785 (ECMAScript) prints it, -0.0 as 0."""
    expected = rfc8785.dumps({"v": 0 if value == 0 else value})
    assert expected == canonical_bytes({"v": value})


def test_edge_cases():
    """NaN and infinities become strings, -0.0 is 0, big ints are strings, tuples are lists."""
    record = {
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": float("-inf"),
        "neg0": -0.0,
        "big": 2**64,
        "t": (1, 2.0),
    }
    expected = b'{"big":"18446744073709551616","inf":"Infinity","nan":"NaN","neg0":0,"ninf":"-Infinity","t":[1,2]}'
    assert expected == canonical_bytes(record)


def test_keys_sorted_by_utf16_code_units():
    """Keys sort by UTF-16 code units: U+1F600 (surrogates D83D…) before U+FF21, unlike code point order."""
    record = {"\uff21": 1, "\U0001f600": 2, "a": 3, "é": 4}
    assert list(json.loads(canonical_bytes(record))) == ["a", "é", "\U0001f600", "\uff21"]
    assert list(json.loads(json.dumps(record, sort_keys=True))) == [
        "a",
        "é",
        "\uff21",
        "\U0001f600",
    ]


def test_lone_surrogates_are_escaped():
    """A lone surrogate (no UTF-8 form) is kept visible as its escape text, in values and keys."""
    assert canonical_bytes({"k\udc80": "x\ud800y"}) == b'{"k\\\\udc80":"x\\\\ud800y"}'


def test_control_characters_and_unicode():
    """Control characters are escaped, other characters (U+2028, emoji) are kept as UTF-8."""
    assert '{"s":"a\\n\\u0001\u2028\U0001f600"}'.encode() == canonical_bytes(
        {"s": "a\n\x01\u2028\U0001f600"}
    )


def test_unsupported_type_is_a_clear_error():
    """A value with no JSON form raises CanonicalizationError naming its type, not the value."""
    with pytest.raises(CanonicalizationError, match="bytes"):
        canonical_bytes({"b": b"secret"})


def test_cycle_is_a_clear_error():
    """A cyclic record raises CanonicalizationError rather than recursing forever."""
    record: dict = {}
    record["self"] = record
    with pytest.raises(CanonicalizationError):
        canonical_bytes(record)


def test_record_field_keys_of_a_str_subclass_take_the_reference_path():
    """A key equal to a record field name but of a str subclass still gets the reference bytes."""

    class Key(str):
        pass

    record = {Key("tool_name"): "x", "seq": 1, "duration_ms": 2.0}
    assert rfc8785.dumps(prepare(record)) == canonical_bytes(record)


@pytest.mark.parametrize(
    "value",
    [float("nan"), 1.0, -0.0, 1e16, 1e-7, 2**53, -(2**53), (1, 2), [{"é": 1, "z": 2}]],
)
def test_unusual_values_in_record_fields_equal_rfc8785(value):
    """Values in the fields the exporter fills (some nested) print as the reference prints them."""
    record = {
        "tool_name": "t",
        "duration_ms": value,
        "arguments": {"v": value},
        "user_roles": [value],
    }
    assert rfc8785.dumps(prepare(record)) == canonical_bytes(record)
