# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The validity rules behind the detectors: Luhn, issuer ranges, SSN rules, IBAN mod-97, addresses."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit.redaction import _checks


def _luhn_complete(prefix: str, length: int) -> str:
    """``prefix`` padded with zeros to ``length`` digits, the last one chosen to pass Luhn."""
    body = prefix.ljust(length - 1, "0")
    return next(body + d for d in "0123456789" if _checks.luhn_ok(body + d))


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("79927398713", True),  # the textbook example (odd length)
        ("79927398710", False),
        ("4111111111111111", True),  # even length
        ("4111111111111112", False),
        ("59", True),  # 5 doubled is 10, which counts as 1
        ("18", True),
        ("81", False),  # the doubled digit is the first of an even-length string
        ("0", True),
    ],
)
def test_luhn(digits, ok):
    """The Luhn check doubles every second digit from the right and folds results over 9."""
    assert ok == _checks.luhn_ok(digits)


@pytest.mark.parametrize(
    ("prefix", "length", "ok"),
    [
        ("2200", 16, True),  # Mir: 2200-2204
        ("2204", 16, True),
        ("2199", 16, False),
        ("2205", 16, False),
        ("2204", 19, True),
        ("2200", 15, False),
        ("4", 13, True),  # Visa: 13, 16, 19 digits only
        ("4", 14, False),
        ("4", 19, True),
        ("51", 16, True),  # Mastercard
        ("55", 16, True),
        ("56", 12, True),  # Maestro: from 12 digits
        ("50", 20, False),  # never more than 19
        ("2221", 16, True),  # Mastercard 2-series
        ("2720", 16, True),
        ("2721", 16, False),
        ("34", 15, True),  # American Express
        ("34", 16, False),
        ("6011", 19, True),  # Discover
        ("3528", 16, True),  # JCB
        ("3590", 16, False),
        ("300", 14, True),  # Diners Club
        ("306", 14, False),
        ("1", 16, False),  # no issuer
        ("9", 16, False),
    ],
)
def test_card_issuer_ranges_and_lengths(prefix, length, ok):
    """A Luhn-valid number is a card only with a known issuer prefix and one of its lengths."""
    assert ok == _checks.card_ok(_luhn_complete(prefix, length))


def test_card_separators_and_non_ascii_digits():
    """Spaces and dashes are ignored; other separators and non-ASCII digits are not a card."""
    assert (
        _checks.card_ok("4111 1111 1111 1111"),
        _checks.card_ok("4111-1111-1111-1111"),
        _checks.card_ok("4111.1111.1111.1111"),
        _checks.card_ok("４１１１１１１１１１１１１１１１"),  # fullwidth digits
        _checks.card_ok(""),
        _checks.card_ok("a111111111111111"),
        _checks.card_ok("4111111111111111a"),
    ) == (True, True, False, False, False, False, False)


def test_card_fails_luhn():
    """A number with a known issuer and length that fails Luhn is not a card."""
    good = _luhn_complete("51", 16)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert (_checks.card_ok(good), _checks.card_ok(bad)) == (True, False)


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        ("219-09-9998", True),
        ("219 09 9998", True),
        ("219099998", True),
        ("078-05-1120", False),  # the Woolworth wallet card number, voided
        ("219-09-9999", False),  # voided (used in an SSA advertisement)
        ("123-45-6789", False),  # voided
        ("000-12-3456", False),  # area 000
        ("666-12-3456", False),  # area 666
        ("900-12-3456", False),  # areas 900-999
        ("999-12-3456", False),
        ("899-12-3456", True),
        ("123-00-4567", False),  # group 00
        ("123-45-0000", False),  # serial 0000
        ("12-345-678", False),  # 8 digits
        ("219-09-99981", False),  # 10 digits
        ("٢١٩٠٩٩٩٩٨", False),  # Arabic-Indic digits
    ],
)
def test_ssn_rules_and_voided_numbers(candidate, ok):
    """An SSN has nine ASCII digits, an issuable area, group and serial, and is not a voided number."""
    assert ok == _checks.ssn_ok(candidate)


@pytest.mark.parametrize(
    ("compact", "ok"),
    [
        ("GB82WEST12345698765432", True),
        ("DE89370400440532013000", True),
        ("NO9386011117947", True),  # the shortest (15)
        ("GB82WEST1234569876543", False),  # one character short for GB
        ("GB82WEST123456987654321", False),  # one too many
        ("GB83WEST12345698765432", False),  # check digits off by one
        ("XX82WEST12345698765432", False),  # no such country
        ("gb82WEST12345698765432", False),  # country in lower case
        ("GBA2WEST12345698765432", False),  # check digits must be digits
        ("GB88WEST1234569876543", False),  # mod 97 == 1, but one character short for GB
        ("GBAKWEST12345698765432", False),  # mod 97 == 1, but letters as check digits
        ("GBD2WEST12345698765432", False),  # mod 97 == 1, but a letter as first check digit
        ("GB82WEST1234569876543-", False),  # not alphanumeric
        ("GB82WEST123456987654３２", False),  # non-ASCII digits
    ],
)
def test_iban(compact, ok):
    """An IBAN has a known country, that country's length, digit check digits, and mod 97 == 1."""
    assert ok == _checks.iban_ok(compact)


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        ("203.0.113.195", True),
        ("10.0.0.1", True),  # private addresses may still name someone
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("0.0.0.0", False),
        ("256.1.1.1", False),
        ("1.2.3", False),
    ],
)
def test_ipv4(candidate, ok):
    """A valid dotted quad other than loopback and unspecified is an address."""
    # __wrapped__: the rule itself, not a result cached by an earlier caller.
    assert (ok, ok) == (_checks.ipv4_ok.__wrapped__(candidate), _checks.ipv4_ok(candidate))


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        ("2001:db8::1", True),
        ("2001:db8:85a3::8a2e:370:7334", True),
        ("fe80::1%eth0", True),  # a zone id
        ("::ffff:192.0.2.1", True),  # embedded IPv4
        ("1:2::", True),
        ("1::", False),  # one group
        ("::1", False),  # loopback
        ("::", False),  # unspecified
        ("::2", False),  # one group: a slice, not an address
        ("add::dead", False),  # hex words, no digit
        ("2001:db8::g", False),
        ("1:2:3:4:5:6:7:8:9", False),
    ],
)
def test_ipv6(candidate, ok):
    """A valid IPv6 address with a digit and two groups, other than ``::1`` and ``::``, is an address."""
    assert (ok, ok) == (_checks.ipv6_ok.__wrapped__(candidate), _checks.ipv6_ok(candidate))


@pytest.mark.parametrize(
    ("token", "ok"),
    [("aB3", True), ("ab3", False), ("AB3", False), ("aBc", False), ("", False)],
)
def test_high_entropy_needs_upper_lower_and_digit(token, ok):
    """A generated-looking token mixes upper case, lower case and digits."""
    assert ok == _checks.high_entropy(token)
