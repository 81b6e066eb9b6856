# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Detectors: find sensitive substrings in free text, and the scanner that runs them.

A detector is any callable ``detector(text) -> Iterable[Finding]``. The built-in ones (see
``_builtin.py``) are :class:`PatternDetector` instances: a regex finds candidates, a validator (Luhn,
mod-97, the SSN area rules, ``ipaddress``) decides.

Speed comes from not running regexes that cannot match, and from regexes the engine can skip through
at C speed:

* pre-checks per detector: how many digits the string must hold, substrings it must contain;
* every built-in regex starts with a literal or a character class (look-behinds come after the first
  character), so ``re`` jumps from candidate to candidate instead of trying each position;
* emails, IPv6 addresses and URL passwords are anchored on ``@``, ``:`` and ``://``;
* case-insensitive detectors run a case-sensitive regex over the lower-cased (ASCII) string;
* in long strings, numeric detectors (cards, SSNs, phones, IPv4) only look around digit runs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

from opentelemetry_instrumentation_toolaudit.redaction import _checks


class Finding(NamedTuple):
    """A sensitive substring: its kind (e.g. ``"email"``) and ``text[start:end]``."""

    kind: str
    start: int
    end: int


class Detector(Protocol):
    """Anything that finds sensitive substrings in a string. It must not keep or log the text."""

    def __call__(self, text: str) -> Iterable[Finding]: ...


_NON_DIGIT_BYTES = bytes(b for b in range(256) if not 48 <= b <= 57)
NUMBER_RUN = re.compile(r"[0-9][0-9 ().+-]{5,}[0-9]")
"""Cards, SSNs, phone numbers and IPv4 addresses all contain such a run (7+ characters)."""


def digit_count(text: str) -> int:
    """How many ASCII digits ``text`` holds (one C-speed pass)."""
    return len(text.encode("utf-8", "surrogatepass").translate(None, _NON_DIGIT_BYTES))


class PatternDetector:
    """A regex detector: each match (or its ``group``) that passes ``validate`` is a finding.

    Pre-checks skip the regex on strings that cannot match: ``min_digits`` (ASCII digits the string
    must hold), ``required`` (substrings, at least one present), ``required_lower`` (the same, in
    the lower-cased string), ``numeric`` (every match lies in a :data:`NUMBER_RUN` plus up to 40
    characters of context before it) and ``upper`` (every match holds a capital letter).
    ``lowercase=True`` means ``pattern`` is written for lower-cased text: it runs on the lower-cased
    string when that keeps offsets (ASCII), and case-insensitively otherwise. Patterns are compiled
    with ``re.ASCII``.
    """

    __slots__ = (
        "builtin",
        "group",
        "kind",
        "lowercase",
        "min_digits",
        "numeric",
        "pattern",
        "regex",
        "regex_ci",
        "required",
        "required_lower",
        "upper",
        "validate",
    )

    def __init__(
        self,
        kind: str,
        pattern: str,
        *,
        validate: Callable[[str], bool] | None = None,
        group: str | int = 0,
        min_digits: int = 0,
        required: Sequence[str] = (),
        required_lower: Sequence[str] = (),
        numeric: bool = False,
        upper: bool = False,
        lowercase: bool = False,
        builtin: bool = False,
    ) -> None:
        self.kind = kind
        self.pattern = pattern
        self.regex = re.compile(pattern, re.ASCII)
        self.regex_ci = re.compile(pattern, re.ASCII | re.IGNORECASE) if lowercase else self.regex
        self.validate = validate
        self.group = group
        self.min_digits = min_digits
        self.required = tuple(required)
        self.required_lower = tuple(required_lower)
        self.numeric = numeric
        self.upper = upper
        self.lowercase = lowercase
        # Built-in detectors never match under 6 characters or in a plain word (see the policy).
        self.builtin = builtin

    def __call__(self, text: str) -> list[Finding]:
        lower = text.lower()
        if not self.applies(text, digit_count(text), lower):
            return []
        if self.numeric and NUMBER_RUN.search(text) is None:
            return []
        return self.scan(text, lower, 0, len(text))

    def applies(self, text: str, digits: int, lower: str) -> bool:
        """Whether the pre-checks (but ``numeric``) let ``text`` through to the regex."""
        if digits < self.min_digits:
            return False
        if self.upper and (text.islower() or text.isdigit()):
            return False
        if self.required:
            for needle in self.required:
                if needle in text:
                    break
            else:
                return False
        if self.required_lower:
            for needle in self.required_lower:
                if needle in lower:
                    break
            else:
                return False
        return True

    def scan(self, text: str, lower: str, pos: int, endpos: int) -> list[Finding]:
        """Findings in ``text[pos:endpos]`` (look-behinds may see before ``pos``)."""
        if self.lowercase:
            source, regex = (
                (lower, self.regex) if len(lower) == len(text) else (text, self.regex_ci)
            )
        else:
            source, regex = text, self.regex
        group, validate, kind = self.group, self.validate, self.kind
        found = []
        for match in regex.finditer(source, pos, endpos):
            start, end = match.span(group)
            if start >= 0 and (validate is None or validate(text[start:end])):
                found.append(Finding(kind, start, end))
        return found

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind!r})"


class IbanDetector(PatternDetector):
    """IBANs, with or without spaces: the country's exact length, then the mod-97 check.

    The regex may run past the IBAN into following capitals and digits, so the candidate is cut to
    the country's length before checking.
    """

    def __init__(self) -> None:
        super().__init__(
            "iban",
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,30}",
            min_digits=2,
            upper=True,
            builtin=True,
        )

    def scan(self, text: str, lower: str, pos: int, endpos: int) -> list[Finding]:
        found = []
        for match in self.regex.finditer(text, pos, endpos):
            start = match.start()
            want = _checks.IBAN_LENGTHS.get(text[start : start + 2])
            if want is None:
                continue
            count, end = 0, start
            for end in range(start, match.end()):
                if text[end] != " ":
                    count += 1
                    if count == want:
                        break
            end += 1
            if count != want or (end < len(text) and text[end].isalnum()):
                continue
            if _checks.iban_ok(text[start:end].replace(" ", "")):
                found.append(Finding(self.kind, start, end))
        return found


_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])", re.ASCII
)


class EmailDetector(PatternDetector):
    """Email addresses, found from each ``@``: a local part (1-64 characters, starting with a letter
    or digit) before it, a dotted domain with an alphabetic TLD after it."""

    def __init__(self) -> None:
        super().__init__("email", "@", required=("@",), builtin=True)

    def scan(self, text: str, lower: str, pos: int, endpos: int) -> list[Finding]:
        found = []
        at = text.find("@", pos, endpos)
        last_end = pos
        while at >= 0:
            start = at
            while start > last_end and text[start - 1] in _LOCAL_CHARS and at - start <= 64:
                start -= 1
            if (
                0 < at - start <= 64
                and text[start].isalnum()
                and not (start > 0 and text[start - 1] in _LOCAL_CHARS)
            ):
                domain = _DOMAIN.match(text, at + 1, endpos)
                if domain is not None:
                    found.append(Finding(self.kind, start, domain.end()))
                    last_end = domain.end()
            at = text.find("@", max(at + 1, last_end), endpos)
        return found


_IPV6_CORE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f:]{2,40}(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?:%[\w.]{1,16})?"
    r"(?![\w]|:[0-9A-Fa-f:])",
    re.ASCII,
)
_HEX = frozenset("0123456789abcdefABCDEF")


class Ipv6Detector(PatternDetector):
    """IPv6 addresses, found from each ``:…:`` pair and checked by ``ipaddress``."""

    def __init__(self) -> None:
        super().__init__(
            "ip_address", ":", validate=_checks.ipv6_ok, min_digits=1, required=(":",), builtin=True
        )

    def scan(self, text: str, lower: str, pos: int, endpos: int) -> list[Finding]:
        found = []
        last_end = pos
        for core in _IPV6_CORE.finditer(text, pos, endpos):
            start = core.start()
            if start < last_end:
                continue
            while start > last_end and start - core.start() > -4 and text[start - 1] in _HEX:
                start -= 1
            match = _IPV6.match(text, start, endpos)
            if match is None:
                continue
            end = match.end()
            if text[end - 1] == ":" and text[end - 2] != ":":
                end -= 1  # "at 2001:db8::1: done": the colon is punctuation
            if _checks.ipv6_ok(text[start:end]):
                found.append(Finding(self.kind, start, end))
                last_end = end
        return found


# Our own output: placeholders, keyed pseudonyms and the redaction marker. Never findings, so that
# redacting twice changes nothing and a redacted value has no findings.
PROTECTED = re.compile(
    r"<[A-Z][A-Z0-9_]{1,40}(?::hmac-sha256:[A-Za-z0-9._-]{1,32}:[0-9a-f]{32})?>"
    r"|hmac-sha256:[A-Za-z0-9._-]{1,32}:[0-9a-f]{32}|\*\*\*REDACTED\*\*\*"
)
_PROTECTED_HINTS = ("<", "hmac-sha256:", "***")
WINDOWED = 512
"""Strings longer than this have their numeric detectors run only around digit runs."""
_CONTEXT = 40  # characters before a digit run that context words ("SSN:", "phone") may occupy


class Scanner:
    """Runs detectors over a string and returns non-overlapping findings, in order.

    Each pattern detector's pre-checks run first, so a string costs a regex only for the kinds it
    could hold. Custom callables always run.
    """

    __slots__ = ("_callables", "_plans", "_priority")

    def __init__(self, detectors: Sequence[Detector]) -> None:
        patterns = [d for d in detectors if isinstance(d, PatternDetector)]
        self._plans = tuple(
            tuple(
                (d, d.min_digits, d.required, d.required_lower, d.upper)
                for d in patterns
                if d.numeric is numeric
            )
            for numeric in (False, True)
        )
        self._callables = tuple(d for d in detectors if not isinstance(d, PatternDetector))
        # Earlier detectors win overlaps: the list is ordered most specific first.
        self._priority: dict[str, int] = {}
        for index, detector in enumerate(detectors):
            kind = getattr(detector, "kind", None)
            if isinstance(kind, str):
                self._priority.setdefault(kind, index)

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text``, merged where they overlap, ordered by position."""
        digits = digit_count(text)
        lower = text.lower()
        n = len(text)
        raw: list[Finding] = []
        windows: list[tuple[int, int]] = [(0, n)]
        plans = self._plans[:1]
        if digits >= 4:
            if n <= WINDOWED:
                if NUMBER_RUN.search(text) is not None:
                    plans = self._plans
            else:
                windows = _number_windows(text)
                if windows:
                    plans = self._plans
        for index, plan in enumerate(plans):
            spans = windows if index else ((0, n),)
            for detector, min_digits, required, required_lower, upper in plan:
                # The pre-checks, inlined: this loop runs for every string of every span.
                if digits < min_digits:
                    continue
                if upper and (text.islower() or text.isdigit()):
                    continue
                if required:
                    for needle in required:
                        if needle in text:
                            break
                    else:
                        continue
                if required_lower:
                    for needle in required_lower:
                        if needle in lower:
                            break
                    else:
                        continue
                for pos, endpos in spans:
                    raw.extend(detector.scan(text, lower, pos, endpos))
        for custom in self._callables:
            raw.extend(custom(text))
        if not raw:
            return raw
        if any(hint in text for hint in _PROTECTED_HINTS):
            starts, ends = [], []
            for match in PROTECTED.finditer(text):
                starts.append(match.start())
                ends.append(match.end())
            if starts:
                raw = [f for f in raw if not _overlaps(f, starts, ends)]
        if len(raw) > 1:
            raw = _without_userinfo_emails(text, raw)
        return self._merge(raw)

    def _merge(self, raw: list[Finding]) -> list[Finding]:
        """One finding per overlapping group, spanning the group, of its most specific kind."""
        if len(raw) == 1:
            return raw
        raw.sort(key=lambda f: (f.start, -f.end))
        rank = self._priority
        merged: list[Finding] = []
        for finding in raw:
            if merged and finding.start < merged[-1].end:
                last = merged[-1]
                kind = last.kind
                if rank.get(finding.kind, 1 << 30) < rank.get(kind, 1 << 30):
                    kind = finding.kind
                merged[-1] = Finding(kind, last.start, max(last.end, finding.end))
            else:
                merged.append(finding)
        return merged


def _number_windows(text: str) -> list[tuple[int, int]]:
    """Disjoint ``(pos, endpos)`` windows around every digit run, with room for context words
    before and look-aheads after."""
    windows: list[tuple[int, int]] = []
    n = len(text)
    for run in NUMBER_RUN.finditer(text):
        start, end = max(0, run.start() - _CONTEXT), min(n, run.end() + 3)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _without_userinfo_emails(text: str, raw: list[Finding]) -> list[Finding]:
    """Drop the "emails" that are a URL's password and host: in ``mongodb://admin:pw@host/db``
    the URL password ``pw`` is a finding, and ``pw@host`` looks like an address; merged, they would
    take the host with them."""
    password_ends = {f.end for f in raw if f.kind == "url_password"}
    if not password_ends:
        return raw
    return [
        f for f in raw if f.kind != "email" or text.find("@", f.start, f.end) not in password_ends
    ]


def _overlaps(finding: Finding, starts: list[int], ends: list[int]) -> bool:
    """Whether ``finding`` overlaps one of the sorted, disjoint spans ``zip(starts, ends)``."""
    i = bisect.bisect_right(starts, finding.start) - 1  # the last span starting at or before it
    if i >= 0 and ends[i] > finding.start:
        return True
    return i + 1 < len(starts) and starts[i + 1] < finding.end
