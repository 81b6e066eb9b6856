# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RFC 8785 canonical bytes: the fast path equals the reference encoder, and edge cases are safe."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from opentelemetry_instrumentation_toolaudit._exceptions import CanonicalizationError
from opentelemetry_instrumentation_toolaudit.ledger._canonical import (
    canonical_bytes,
    canonicalize,
    prepare,
)

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
    from opentelemetry_instrumentation_toolaudit.ledger import _canonical

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


MAX = 2**53 - 1


@pytest.mark.parametrize(
    ("record", "expected", "exact"),
    [
        (
            {"a": 1, "b": [1.5, None, True, "x"], "c": {"d": "e"}},
            b'{"a":1,"b":[1.5,null,true,"x"],"c":{"d":"e"}}',
            True,
        ),
        ({"a": (1, 2)}, b'{"a":[1,2]}', True),
        ({"a": 1e-4}, b'{"a":0.0001}', True),
        ({"a": MAX, "b": -MAX}, b'{"a":9007199254740991,"b":-9007199254740991}', True),
        (
            {"a": [MAX], "b": {"c": -MAX}},
            b'{"a":[9007199254740991],"b":{"c":-9007199254740991}}',
            True,
        ),
        ({"a": MAX + 1}, b'{"a":"9007199254740992"}', False),
        ({"a": -MAX - 1}, b'{"a":"-9007199254740992"}', False),
        ({"a": [MAX + 1]}, b'{"a":["9007199254740992"]}', False),
        ({"a": {"b": -MAX - 1}}, b'{"a":{"b":"-9007199254740992"}}', False),
        ({"a": (MAX + 1,)}, b'{"a":["9007199254740992"]}', False),
        ({"a": 1.0}, b'{"a":1}', False),
        ({"a": [2.0]}, b'{"a":[2]}', False),
        ({"a": float(MAX)}, b'{"a":9007199254740991}', False),
        ({"a": float(-MAX)}, b'{"a":-9007199254740991}', False),
        ({"a": 9.999e-5}, b'{"a":0.00009999}', False),
        ({"a": 1e16}, b'{"a":10000000000000000}', False),
        ({"a": -0.0}, b'{"a":0}', False),
        ({"a": float("nan")}, b'{"a":"NaN"}', False),
        ({"a": "\udc80"}, b'{"a":"\\\\udc80"}', False),
        ({"\u00e9": 1}, b'{"\xc3\xa9":1}', False),
        ({1: "x", "b": 2}, b'{"1":"x","b":2}', False),
        ({"a": {None: 1, True: 2}}, b'{"a":{"None":1,"True":2}}', False),
        ({"a": [{(1, 2): "t"}]}, b'{"a":[{"(1, 2)":"t"}]}', False),
        ({"tool_name": "t", "seq": MAX}, b'{"seq":9007199254740991,"tool_name":"t"}', True),
        ({"tool_name": "t", "seq": MAX + 1}, b'{"seq":"9007199254740992","tool_name":"t"}', False),
        (
            {"tool_name": "t", "seq": 1.0, "x": MAX},
            b'{"seq":1,"tool_name":"t","x":9007199254740991}',
            False,
        ),
        ({"seq": 1.0, "x": MAX + 1}, b'{"seq":1,"x":"9007199254740992"}', False),
        ({"seq": 1.0, "x": [1, 2.5, "y", None]}, b'{"seq":1,"x":[1,2.5,"y",null]}', False),
        ({"seq": 1.0, "x": {1: 2}}, b'{"seq":1,"x":{"1":2}}', False),
    ],
)
def test_canonicalize_bytes_and_whether_they_are_exact(record, expected, exact):
    """canonicalize says its bytes are exact only when no value had to change to get them: not
    for integral floats, integers past ±(2^53-1), NaN, -0.0, lone surrogates or non-string keys."""
    assert canonicalize(record) == (expected, exact)
    assert rfc8785.dumps(prepare(record)) == expected


def test_prepare_makes_values_rfc8785_accepts():
    """prepare turns non-JSON values into JSON ones, leaving JSON values as they are."""
    assert prepare(
        {
            "f": -0.0,
            "t": (1, [2, (3,)]),
            "k": {2: -MAX - 1},
            "i": float("-inf"),
            "s": "ok",
            "n": None,
        }
    ) == {
        "f": 0,
        "t": [1, [2, [3]]],
        "k": {"2": "-9007199254740992"},
        "i": "-Infinity",
        "s": "ok",
        "n": None,
    }


def test_unsupported_type_message_names_only_the_type():
    """The error for a value with no JSON form is exactly its type's name, wherever it is nested."""
    with pytest.raises(CanonicalizationError, match=r"^type bytes has no canonical JSON form$"):
        canonical_bytes({"a": [{"b": b"secret"}]})


def test_cycle_message():
    """A cycle is reported as a record nesting too deeply."""
    record: dict = {"a": []}
    record["a"].append(record)
    with pytest.raises(
        CanonicalizationError, match=r"^a record nests too deeply \(or contains a cycle\)$"
    ):
        canonicalize(record)


def test_non_ascii_keys_sort_by_utf16_units_on_every_path():
    """A record whose keys are all non-ASCII sorts them by UTF-16 code units, also when one of its
    values has to change (an integral float)."""
    record = {"\uff21": 1.0, "\U0001f600": 2}
    assert canonicalize(record) == ('{"\U0001f600":2,"\uff21":1}'.encode(), False)


def test_negative_limit_in_a_list_is_exact():
    """-(2^53-1) inside a list is printed as a number, and the bytes are exact."""
    assert canonicalize({"a": [-MAX, MAX]}) == (
        b'{"a":[-9007199254740991,9007199254740991]}',
        True,
    )


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (datetime.datetime(2026, 1, 1), "datetime"),
        (datetime.date(2026, 1, 1), "date"),
        (uuid.UUID(int=1), "UUID"),
    ],
)
def test_values_a_fast_encoder_could_print_are_refused(value, name):
    """Values with no JSON type (dates, UUIDs) are refused even though orjson could print them: a
    record's bytes never depend on which encoder is installed."""
    with pytest.raises(CanonicalizationError, match=f"^type {name} has no canonical JSON form$"):
        canonicalize({"a": value})


def test_the_c_encoder_refuses_other_types_by_name():
    """The stdlib encoder (used without orjson) raises TypeError naming only the type."""
    from opentelemetry_instrumentation_toolaudit.ledger import _canonical

    with pytest.raises(TypeError, match=r"^bytes$"):
        "".join(_canonical._c_encode({"a": b"secret"}, 0))


def test_prepare_turns_negative_zero_into_the_integer_zero():
    """-0.0 becomes the integer 0 (equal to -0.0 in Python, but printed without a sign)."""
    assert repr(prepare({"z": -0.0})) == "{'z': 0}"
