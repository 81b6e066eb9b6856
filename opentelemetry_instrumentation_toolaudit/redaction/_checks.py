# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Checksums and validity rules that separate real identifiers from look-alikes.

A regex finds candidates; these decide. They never raise on any string.
"""

from __future__ import annotations

import functools
import ipaddress

# Payment card issuer prefixes (IIN ranges) and the lengths each issues. A Luhn-valid number with no
# known issuer prefix is far more often a timestamp or an id than a card.
_CARD_PREFIXES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (56, 58, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (63, 63, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (67, 67, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    parity = len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_ok(candidate: str) -> bool:
    """A payment card number: 13-19 digits (spaces/dashes ignored), a known issuer, Luhn-valid."""
    digits = candidate.replace(" ", "").replace("-", "")
    n = len(digits)
    if not 12 <= n <= 19 or not digits.isdigit() or not digits.isascii():
        return False
    for low, high, lengths in _CARD_PREFIXES:
        width = len(str(low))
        if low <= int(digits[:width]) <= high and n in lengths:
            return luhn_ok(digits)
    return False


# Invalid by SSA rules (area 000, 666, 900-999; group 00; serial 0000) or publicly voided.
_VOID_SSNS = frozenset({"078051120", "219099999", "123456789"})


def ssn_ok(candidate: str) -> bool:
    """A US Social Security number that the SSA could have issued."""
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if len(digits) != 9 or not digits.isascii():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in _VOID_SSNS


# IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_ok(compact: str) -> bool:
    """An IBAN without spaces: known country, its exact length, and ISO 7064 mod-97 == 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isascii():
        return False
    if not compact[2:4].isdigit() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    remainder = 0
    for ch in rearranged:
        # Letters count as 10..35; fold digit by digit so big numbers never appear.
        value = ord(ch) - 48 if ch.isdigit() else ord(ch) - 55
        remainder = (remainder * (100 if value > 9 else 10) + value) % 97
    return remainder == 1


def _routable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Loopback and unspecified addresses name no one; anything else (private ranges too) might.
    return not (address.is_loopback or address.is_unspecified)


@functools.lru_cache(maxsize=4096)
def ipv4_ok(candidate: str) -> bool:
    """A dotted-quad IPv4 address other than loopback or 0.0.0.0."""
    try:
        return _routable(ipaddress.IPv4Address(candidate))
    except ValueError:
        return False


@functools.lru_cache(maxsize=4096)
def ipv6_ok(candidate: str) -> bool:
    """An IPv6 address (zone ids and embedded IPv4 allowed) other than ``::1`` and ``::``."""
    address = candidate.split("%", 1)[0]
    if not any(ch.isdigit() for ch in address) or sum(1 for g in address.split(":") if g) < 2:
        return False  # "add::dead", slices like "a[::2]": hex words and code, not addresses
    try:
        return _routable(ipaddress.IPv6Address(address))
    except ValueError:
        return False


def high_entropy(token: str) -> bool:
    """Mixed upper, lower and digits: how generated keys look and hyphenated words do not."""
    return (
        any(c.isdigit() for c in token)
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
    )
