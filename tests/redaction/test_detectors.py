# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The scanner and the built-in detectors: overlaps, case folding, long strings, context rules."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit.redaction._builtin import builtin_detectors
from opentelemetry_instrumentation_toolaudit.redaction._detectors import (
    WINDOWED,
    Finding,
    IbanDetector,
    PatternDetector,
    Scanner,
)

KEY = "sk-proj-" + "a" * 40


def found(text: str, scanner: Scanner | None = None) -> list[tuple[str, str]]:
    """Each finding as (kind, the text it covers), by the built-in detectors unless ``scanner``.

    The detectors are built afresh for each call (not once at import), so that a test sees the
    code as it is when the test runs."""
    scanner = Scanner(builtin_detectors()) if scanner is None else scanner
    return [(f.kind, text[f.start : f.end]) for f in scanner.scan(text)]


def test_overlapping_findings_take_the_earliest_detectors_kind():
    """Where two detectors find the same text, the one listed first (the more specific) names it."""
    text = f"api_key={KEY}"
    reversed_scanner = Scanner(list(reversed(builtin_detectors())))
    assert found(text) == [("api_key", KEY)]
    assert found(text, reversed_scanner) == [("secret_assignment", KEY)]


def test_overlapping_findings_merge_into_their_union():
    """Overlapping findings of different extents become one finding spanning all of them."""
    text = f'note password="{KEY}" end'
    assert [("api_key", f'"{KEY}"')] == found(text)


def test_custom_pattern_detector_ranks_by_its_position():
    """A caller's pattern detector listed before the built-ins wins overlaps; listed after, it loses."""
    order_ids = PatternDetector("order_id", r"sk-proj-a{12}")
    text = f"key {KEY}"
    assert found(text, Scanner([order_ids, *builtin_detectors()])) == [("order_id", KEY)]
    assert found(text, Scanner([*builtin_detectors(), order_ids])) == [("api_key", KEY)]


def test_custom_callable_kind_never_outranks_a_builtin_kind():
    """A plain callable declares no kind, so its findings lose overlaps to built-in kinds wherever
    it is listed."""

    def order_ids(text: str) -> list[Finding]:
        start = text.find("sk-proj-")
        return [Finding("order_id", start, start + 12)] if start >= 0 else []

    text = f"key {KEY}"
    assert found(text, Scanner([order_ids, *builtin_detectors()])) == [("api_key", KEY)]
    assert found(text, Scanner([order_ids])) == [("order_id", "sk-proj-aaaa")]


def test_adjacent_findings_stay_apart():
    """Findings that touch without overlapping are reported separately."""
    text = "jane@example.com,joe@example.org"
    assert found(text) == [("email", "jane@example.com"), ("email", "joe@example.org")]


@pytest.mark.parametrize("prefix", ["İ ", "İstanbul ", "ẞ Straße "])
def test_case_insensitive_patterns_keep_offsets_when_lowering_changes_length(prefix):
    """When lower-casing changes a string's length ('İ' becomes two characters), case-insensitive
    detectors still report offsets into the original text."""
    text = f"{prefix}BEARER abcdef12345 and AUTHORIZATION: Basic dXNlcjpwYXNz"
    assert len(text.lower()) != len(text) or prefix.startswith("ẞ")
    assert found(text) == [("bearer_token", "abcdef12345"), ("basic_auth", "dXNlcjpwYXNz")]
    (bearer,) = [d for d in builtin_detectors() if d.kind == "bearer_token"]
    assert [text[f.start : f.end] for f in bearer(text)] == ["abcdef12345"]


def test_case_insensitive_pattern_on_ascii_text():
    """A pattern written for lower-cased text finds upper- and mixed-case ASCII input."""
    assert found("BeArEr AbCdEf12345") == [("bearer_token", "AbCdEf12345")]


def _filler(n: int) -> str:
    return ("lorem ipsum dolor sit amet " * (n // 27 + 1))[:n]


def test_long_strings_find_numbers_anywhere():
    """In a string longer than the windowed limit, numbers are found at its start, middle and end,
    with their context words."""
    parts = [
        "SSN 219099998",
        _filler(700),
        "card 4111 1111 1111 1111",
        _filler(700),
        "phone: 020 7946 0958",
        _filler(30),
        "tel: 555 0123",
        _filler(600),
        "10.1.2.3",
    ]
    text = " ".join(parts)
    assert len(text) > WINDOWED
    assert found(text) == [
        ("ssn", "219099998"),
        ("credit_card", "4111 1111 1111 1111"),
        ("phone", "020 7946 0958"),
        ("phone", "555 0123"),
        ("ip_address", "10.1.2.3"),
    ]


def test_long_strings_equal_short_ones():
    """A long string has the same findings as its pieces scanned one by one (windowing loses none)."""
    pieces = [
        "ssn: 219-09-9998",
        "call +44 20 7946 0958 now",
        "ref 4111-1111-1111-1111.",
        "mobile 0170 1234567",
        "addr 203.0.113.195:443",
        "mail jane.doe@example.com",
        "IBAN GB82 WEST 1234 5698 7654 32",
    ]
    expected = []
    text = ""
    for piece in pieces:
        text += f"{_filler(90)} {piece} "
        expected += found(piece)
    assert len(text) > WINDOWED
    assert len(expected) == len(pieces)
    assert expected == found(text)


def test_digits_far_from_a_context_word_in_a_long_string():
    """In a long string, a context word right before a bare number counts; the same digits with no
    context word are not a finding."""
    bare = _filler(600) + " 219099998 " + _filler(100)
    with_context = _filler(600) + " ssn 219099998 " + _filler(100)
    assert (found(bare), found(with_context)) == ([], [("ssn", "219099998")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tel: 12 34 56 ref 9", []),  # six digits: too few for a number after "tel:"
        ("tel: 123 4567", [("phone", "123 4567")]),  # seven
        ("phone: 1234 5678 9012 345", [("phone", "1234 5678 9012 345")]),  # fifteen
        ("phone: 1234 5678 9012 3456", []),  # sixteen: too many
        ("fax (020) 7946-0958", [("phone", "(020) 7946-0958")]),
        ("telephone no. 0201234567", [("phone", "0201234567")]),
        ("hotel: 1234567", []),  # "tel" inside a word is no context
    ],
)
def test_context_phone_numbers_need_7_to_15_digits(text, expected):
    """A number after "phone:", "tel:" and the like is a phone number only with 7 to 15 digits."""
    assert expected == found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
        ("0044 20 7946 0958", [("phone", "0044 20 7946 0958")]),
        ("+1 23 4", []),  # four digits
        ("+1 234 567", []),  # seven digits: too few for an international number
        ("+1 234 5678", [("phone", "+1 234 5678")]),  # eight
    ],
)
def test_international_phone_numbers_need_8_to_15_digits(text, expected):
    """An international number (+ or 00 prefix) needs 8 to 15 digits."""
    assert expected == found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn 078051120", []),  # voided numbers are not findings
        ("ssn 219099999", []),
        ("ssn 123456789", []),
        ("ssn 219099998", [("ssn", "219099998")]),
        ("card 2200 0000 0000 0004", [("credit_card", "2200 0000 0000 0004")]),  # Mir
        ("card 2205 0000 0000 0009", []),
    ],
)
def test_table_entries_decide_findings(text, expected):
    """The voided SSNs and the issuer table (the Mir range) decide what the scanner reports."""
    assert expected == found(text)


def test_pattern_detector_pre_checks():
    """A caller's pattern detector is skipped on strings that fail its pre-checks."""
    detector = PatternDetector(
        "ticket", r"t-[0-9]{4}", min_digits=4, required=("t-",), required_lower=("ticket",)
    )
    assert [Finding("ticket", 11, 17)] == detector("Ticket ref t-1234")
    assert (
        detector("Ticket ref t-123"),  # too few digits
        detector("Ticket ref x-1234 t1234"),  # no "t-"
        detector("ref t-1234"),  # no "ticket"
    ) == ([], [], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\ud800 card 4111 1111 1111 1111", [("credit_card", "4111 1111 1111 1111")]),
        ("GB82WEST12345698765432X", []),  # runs on into a longer token: not an IBAN
        ("GB82WEST12345698765432 x", [("iban", "GB82WEST12345698765432")]),
        ("iban GB82 WEST 1234 5698 7654 32 99", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        ("at 2001:db8::1: done", [("ip_address", "2001:db8::1")]),  # the colon is punctuation
        ("mongodb://admin:pw@db.example.com/x", [("url_password", "pw")]),  # the host stays
        ("b" * 64 + "@example.com", [("email", "b" * 64 + "@example.com")]),
        ("b" * 65 + "@example.com", []),  # a local part is at most 64 characters
        (
            "jane@example.com and joe@example.com",
            [("email", "jane@example.com"), ("email", "joe@example.com")],
        ),
        ("jane@@example.com", []),
        ("<EMAIL> jane@example.com <PHONE>", [("email", "jane@example.com")]),
        (
            "hmac-sha256:k1:0123456789abcdef0123456789abcdef 4111111111111111",
            [("credit_card", "4111111111111111")],
        ),
    ],
)
def test_detector_boundaries(text, expected):
    """Where a finding starts and ends: lone surrogates, IBAN length, trailing colons, URL hosts,
    local-part length, and placeholders beside real findings."""
    assert found(text) == expected


def test_our_own_placeholders_are_never_findings():
    """Placeholders and keyed pseudonyms the policy writes hold no findings, even where their key
    id looks like an address; findings touching them on either side are kept."""
    pseudonym = "hmac-sha256:10.1.2.3:0123456789abcdef0123456789abcdef"
    assert found(f"ip {pseudonym} and <IP_ADDRESS:{pseudonym}> ***REDACTED***") == []
    text = f"jane@example.com<EMAIL:{pseudonym}>joe@example.com {pseudonym} 10.9.8.7 <PHONE>"
    assert found(text) == [
        ("email", "jane@example.com"),
        ("email", "joe@example.com"),
        ("ip_address", "10.9.8.7"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic abc123", [("basic_auth", "abc123")]),  # a header: whatever it holds
        ("basic dTpwZA", [("basic_auth", "dTpwZA")]),  # "u:pd" without its padding
        ("basic dTpwd2Q", [("basic_auth", "dTpwd2Q")]),  # "u:pwd", one "=" missing
        ("basic YWI6Y2RlZmc", [("basic_auth", "YWI6Y2RlZmc")]),
        ("basic dGhlcmVhbG5ldw", []),  # decodes to a word, not user:password
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            [("aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")],
        ),
        ("ghr_" + "A1b2" * 9, [("github_token", "ghr_" + "A1b2" * 9)]),
        ("ghs_" + "A1b2" * 9, [("github_token", "ghs_" + "A1b2" * 9)]),
        ("xoxb-123456789012-abcdefGHIJKL", [("slack_token", "xoxb-123456789012-abcdefGHIJKL")]),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            [("slack_token", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX")],
        ),
        ("AKIAIOSFODNN7EXAMPLE", [("aws_access_key", "AKIAIOSFODNN7EXAMPLE")]),
        ("password=abcd", [("secret_assignment", "abcd")]),  # four characters make a value
        ("password=abc", []),
        ("pwd=../secret", []),  # a relative path is a working directory
        ("pwd=X/abcd", [("secret_assignment", "X/abcd")]),
        ("sk-proj-" + "a" * 32, [("api_key", "sk-proj-" + "a" * 32)]),  # the prefix is enough
        ("sk-proj-" + "a" * 31, []),  # ... with 32 characters after it
        ("sk-learn-compatible-estimator", []),
        ("host 1.2.3.4", [("ip_address", "1.2.3.4")]),  # four digits in all
        ("AGENT/10.1.2.3", []),  # a version after a product name
        ("v1:23:45 at 2001:db8::1", [("ip_address", "2001:db8::1")]),
        (
            "2001:db8:1:2::1 and 2001:db8::2",
            [("ip_address", "2001:db8:1:2::1"), ("ip_address", "2001:db8::2")],
        ),
    ],
)
def test_each_kind_and_its_look_alikes(text, expected):
    """Each built-in kind is named as such, and the rules that set look-alikes aside hold."""
    assert found(text) == expected


def test_two_unranked_kinds_keep_the_first():
    """Overlapping findings of two kinds no detector declares keep the kind of the first one."""

    def first(text: str) -> list[Finding]:
        return [Finding("first", 0, 6)]

    def second(text: str) -> list[Finding]:
        return [Finding("second", 3, 9)]

    assert found("abcdefghij", Scanner([first, second])) == [("first", "abcdefghi")]
    assert found("abcdefghij", Scanner([second, first])) == [("first", "abcdefghi")]


def test_numbers_close_together_at_the_start_of_a_long_string():
    """Digit runs close together share one window; the findings in it are all reported."""
    text = "phone: 020 7946 0958 or ssn 219-09-9998 " + _filler(600) + " 10.1.2.3"
    assert found(text) == [
        ("phone", "020 7946 0958"),
        ("ssn", "219-09-9998"),
        ("ip_address", "10.1.2.3"),
    ]


@pytest.mark.parametrize("text", ["1::2 ab", "12::3 then"])
def test_an_ipv6_address_at_the_start_of_the_text(text):
    """An address whose first group starts the text is found whole, whatever the text ends with."""
    address = text.split(" ")[0]
    assert found(text) == [("ip_address", address)]


def test_detector_repr_names_its_class_and_kind():
    """A detector's repr names its class and its kind, never a pattern or a text."""
    assert (repr(PatternDetector("ticket", "t-[0-9]+")), repr(IbanDetector())) == (
        "PatternDetector('ticket')",
        "IbanDetector('iban')",
    )


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{PRIVATE_KEY} after", [("private_key", PRIVATE_KEY)]),  # ends at its END line
        (JWT, [("jwt", JWT)]),
        ("host 127.0.0.1", []),  # loopback
        ("host 999.1.1.1", []),  # not an address
        ("+1 234 567 ref 9", []),  # seven digits in the number, however many in the text
        ("pwd=\\\\share\\x", []),  # a Windows path after "pwd"
        (
            "a@x.com b@y.com c@z.com",
            [("email", "a@x.com"), ("email", "b@y.com"), ("email", "c@z.com")],
        ),
        ("xGB82WEST12345698765432", []),  # inside a longer word
        (
            "XX12ABCDEFGHIJKLMNOP and GB82WEST12345698765432",
            [("iban", "GB82WEST12345698765432")],
        ),
        ("net 2001:db8:: is", [("ip_address", "2001:db8::")]),  # a trailing "::" is the address
        ("net 2001:db8::", [("ip_address", "2001:db8::")]),
    ],
)
def test_more_kinds_and_look_alikes(text, expected):
    """Private keys end at their END line, JWTs are named, and more look-alikes are set aside."""
    assert found(text) == expected


def test_unranked_kinds_starting_together_keep_the_longest():
    """Of two overlapping findings of undeclared kinds that start together, the longer names them."""

    def short(text: str) -> list[Finding]:
        return [Finding("short", 0, 6)]

    def long(text: str) -> list[Finding]:
        return [Finding("long", 0, 9)]

    assert found("abcdefghij", Scanner([short, long])) == [("long", "abcdefghi")]
