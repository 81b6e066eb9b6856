"""Detectors: find sensitive substrings in free text.

A detector is any callable ``detector(text) -> Iterable[Finding]``. The built-in ones are
:class:`PatternDetector` instances: a regex that finds candidates, and a validator (Luhn, mod-97, the
SSN area rules, ``ipaddress``) that decides. Their regexes are also joined into one *gate* regex, so a
string that none of them could match costs a single regex search (see :class:`Scanner`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
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


class PatternDetector:
    """A regex detector: each match (or its ``group``) that passes ``validate`` is a finding.

    ``pattern`` must use only named groups with names unique to this detector and scoped inline
    flags (``(?i:...)``), so that it can be joined with the others into the gate regex.
    """

    __slots__ = ("builtin", "group", "kind", "pattern", "regex", "required", "validate")

    def __init__(
        self,
        kind: str,
        pattern: str,
        *,
        validate: Callable[[str], bool] | None = None,
        group: str | int = 0,
        required: Sequence[str] = (),
        builtin: bool = False,
    ) -> None:
        self.kind = kind
        # Built-in detectors never match under 6 characters or in a plain word (see the policy).
        self.builtin = builtin
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.validate = validate
        self.group = group
        # Substrings of which at least one must be present: a cheap `in` test before the regex.
        self.required = tuple(required)

    def __call__(self, text: str) -> Iterator[Finding]:
        if self.required and not any(r in text for r in self.required):
            return
        group, validate, kind = self.group, self.validate, self.kind
        for match in self.regex.finditer(text):
            start, end = match.span(group)
            if start < 0:
                continue
            if validate is None or validate(text[start:end]):
                yield Finding(kind, start, end)

    def __repr__(self) -> str:
        return f"PatternDetector({self.kind!r})"


class IbanDetector(PatternDetector):
    """IBANs, with or without spaces: the country's exact length, then the mod-97 check.

    The regex may run past the IBAN into following capitals and digits, so the candidate is cut to
    the country's length before checking.
    """

    def __init__(self) -> None:
        super().__init__(
            "iban", r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}", builtin=True
        )

    def __call__(self, text: str) -> Iterator[Finding]:
        for match in self.regex.finditer(text):
            start = match.start()
            want = _checks.IBAN_LENGTHS.get(text[start : start + 2])
            if want is None:
                continue
            compact, end = [], start
            for end in range(start, match.end()):
                ch = text[end]
                if ch != " ":
                    compact.append(ch)
                    if len(compact) == want:
                        break
            end += 1
            if len(compact) != want or (end < len(text) and text[end].isalnum()):
                continue
            if _checks.iban_ok("".join(compact)):
                yield Finding(self.kind, start, end)


_NB = r"(?<![0-9A-Za-z])"  # not preceded by a letter or digit
_NA = r"(?![0-9A-Za-z])"  # not followed by one

# Words whose value, after ``=`` or ``:``, is a secret in free text (log lines, query strings, code).
_SECRET_WORDS = (
    r"password|passwd|pwd|passphrase|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|"
    r"credentials?|cvv|cvc"
)
# Values after such a word that are types, flags or masks, not secrets.
_NOT_SECRET_VALUES = frozenset(
    {
        "str", "string", "int", "bool", "bytes", "none", "null", "nil", "true", "false",
        "undefined", "required", "optional", "secretstr", "any", "redacted", "hidden",
    }
)  # fmt: skip


def _assignment_value_ok(value: str) -> bool:
    inner = value.strip("\"'")
    return len(inner) >= 4 and inner.lower() not in _NOT_SECRET_VALUES and inner.strip("*x.") != ""


def _digit_count_between(low: int, high: int) -> Callable[[str], bool]:
    def check(candidate: str) -> bool:
        return low <= sum(ch.isdigit() for ch in candidate) <= high

    return check


def _bare_ssn_ok(candidate: str) -> bool:
    return candidate.isdigit() and _checks.ssn_ok(candidate)


def _bearer_ok(token: str) -> bool:
    return any(c.isdigit() for c in token)


def _sk_ok(token: str) -> bool:
    return _checks.high_entropy(token.rsplit("-", 1)[-1]) or _checks.high_entropy(token[3:])


def builtin_detectors() -> list[PatternDetector]:
    """The built-in detectors, most specific first (the order settles overlapping findings)."""
    detectors = [
        PatternDetector(
            "private_key",
            r"-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            r"(?:-----END[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\Z)",
            required=("-----BEGIN",),
        ),
        PatternDetector(
            "jwt",
            r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            required=("eyJ",),
        ),
        PatternDetector(
            "url_password",
            r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@\[\]\"'<>]*:"
            r"(?P<urlpw>[^\s/?#@\"'<>]{1,256})@",
            group="urlpw",
            required=("://",),
        ),
        PatternDetector(
            "api_key",
            r"(?<![\w-])sk-(?:ant-(?:api|admin)\d{2}-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            validate=_sk_ok,
            required=("sk-",),
        ),
        PatternDetector(
            "api_key",
            r"(?<![\w-])(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35})" + _NA,
        ),
        PatternDetector(
            "aws_access_key",
            _NB + r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}" + _NA,
        ),
        PatternDetector(
            "aws_secret_key",
            r"(?i:aws[\w.-]{0,20}?secret[\w.-]{0,20}?[\"']?\s*[:=]\s*[\"']?)"
            r"(?P<awss>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
            group="awss",
        ),
        PatternDetector(
            "github_token",
            r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})" + _NA,
        ),
        PatternDetector(
            "slack_token",
            r"(?<![\w-])(?:xox[abposre]-[A-Za-z0-9-]{10,}|"
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,})",
        ),
        PatternDetector(
            "bearer_token",
            r"(?<![\w-])(?:[Bb]earer|BEARER)\s+(?P<bearer>[A-Za-z0-9._~+/-]{8,}=*)",
            group="bearer",
            validate=_bearer_ok,
        ),
        PatternDetector(
            "secret_assignment",
            r"(?i:(?<![\w-])[\"']?(?:[a-z0-9_-]*[_-])?(?:"
            + _SECRET_WORDS
            + r")[\"']?\s*(?:=|:|=>)\s*)"
            r"(?P<sav>\"[^\"\n]{1,512}\"|'[^'\n]{1,512}'|[^\s\"',;&}\])]{1,512})",
            group="sav",
            validate=_assignment_value_ok,
        ),
        PatternDetector(
            "credit_card",
            r"(?<![0-9A-Za-z-])(?:\d{13,19}|\d{4}(?P<cc_sep>[ -])\d{4}(?P=cc_sep)\d{4}(?P=cc_sep)"
            r"\d{1,7}|\d{4}(?P<cc_sep2>[ -])\d{6}(?P=cc_sep2)\d{4,5})(?![0-9A-Za-z-])",
            validate=_checks.card_ok,
        ),
        IbanDetector(),
        PatternDetector(
            "ssn",
            r"(?<![\w-])\d{3}(?P<ssn_sep>[- ])\d{2}(?P=ssn_sep)\d{4}(?![\w-])",
            validate=_checks.ssn_ok,
        ),
        PatternDetector(
            "ssn",
            r"(?i:\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)[\s:#=\"'-]{0,5})"
            r"(?P<ssn_bare>\d{9})(?!\d)",
            group="ssn_bare",
            validate=_bare_ssn_ok,
        ),
        PatternDetector(
            "email",
            r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])",
            required=("@",),
        ),
        PatternDetector(
            "phone",
            r"(?<![\w+.-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])"
            r"[2-9]\d{2}[ .-]\d{4}(?![\w-]|\.\d)",
        ),
        PatternDetector(
            "phone",
            r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\w-]|\.\d)",
            validate=_digit_count_between(8, 15),
        ),
        PatternDetector(
            "phone",
            r"(?i:\b(?:phone|tel|telephone|mobile|cell|fax)(?:\s+(?:no\.?|number|#))?[\s:#=\"'.-]{1,5})"
            r"(?P<ph_bare>\+?\d[\d ().-]{5,18}\d)(?![\w-])",
            group="ph_bare",
            validate=_digit_count_between(7, 15),
        ),
        PatternDetector(
            "ip_address",
            r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)",
            validate=_checks.ipv4_ok,
        ),
        PatternDetector(
            "ip_address",
            r"(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}"
            r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?:%[\w.]{1,16})?(?![\w:])",
            validate=_checks.ipv6_ok,
            required=(":",),
        ),
    ]
    for detector in detectors:
        detector.builtin = True
    return detectors


# Our own output: placeholders, keyed pseudonyms and the redaction marker. Never findings, so that
# redacting twice changes nothing and a redacted value has no findings.
PROTECTED = re.compile(
    r"<[A-Z][A-Z0-9_]{1,40}(?::hmac-sha256:[A-Za-z0-9._-]{1,32}:[0-9a-f]{32})?>"
    r"|hmac-sha256:[A-Za-z0-9._-]{1,32}:[0-9a-f]{32}|\*\*\*REDACTED\*\*\*"
)
_PROTECTED_HINTS = ("<", "hmac-sha256:", "***")


class Scanner:
    """Runs detectors over a string and returns non-overlapping findings, in order.

    The built-in pattern detectors sit behind one gate regex (the union of their patterns): a string
    it does not match cannot hold a finding of theirs, so most strings cost one ``search``. Custom
    callables always run.
    """

    __slots__ = ("_callables", "_gate", "_patterns", "_priority")

    def __init__(self, detectors: Sequence[Detector]) -> None:
        patterns = [d for d in detectors if isinstance(d, PatternDetector)]
        self._patterns = tuple(patterns)
        self._callables = tuple(d for d in detectors if not isinstance(d, PatternDetector))
        self._gate = (
            re.compile("|".join(f"(?:{d.pattern})" for d in patterns)) if patterns else None
        )
        # Earlier detectors win overlaps: the list is ordered most specific first.
        self._priority: dict[str, int] = {}
        for index, detector in enumerate(detectors):
            kind = getattr(detector, "kind", None)
            if isinstance(kind, str):
                self._priority.setdefault(kind, index)

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text``, merged where they overlap, ordered by position."""
        raw: list[Finding] = []
        if self._gate is not None and self._gate.search(text) is not None:
            for pattern in self._patterns:
                raw.extend(pattern(text))
        for custom in self._callables:
            raw.extend(custom(text))
        if not raw:
            return raw
        if any(hint in text for hint in _PROTECTED_HINTS):
            protected = [m.span() for m in PROTECTED.finditer(text)]
            if protected:
                raw = [f for f in raw if not _overlaps(f, protected)]
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


def _overlaps(finding: Finding, spans: Iterable[tuple[int, int]]) -> bool:
    return any(finding.start < end and start < finding.end for start, end in spans)
