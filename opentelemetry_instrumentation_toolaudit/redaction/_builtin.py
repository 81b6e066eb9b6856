# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The built-in detectors: what each kind looks like, and what rules out its look-alikes.

Every regex starts with a literal or a character class, with its look-behind placed after the first
character, so that the regex engine skips at C speed to the next possible start (see
``_detectors.py``). Patterns marked ``lowercase`` are written for lower-cased text.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from opentelemetry_instrumentation_toolaudit.redaction import _checks
from opentelemetry_instrumentation_toolaudit.redaction._detectors import (
    EmailDetector,
    IbanDetector,
    Ipv6Detector,
    PatternDetector,
)

_NA = r"(?![0-9A-Za-z])"  # not followed by a letter or digit

# Words whose value, after ``=`` or ``:``, is a secret in free text (log lines, query strings, code).
_SECRET_WORDS = (
    r"password|passwd|passphrase|secret[_-]?key|secret|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|token|credentials?|cvv|cvc"
)
_SECRET_HINTS = ("pass", "secret", "key", "token", "credential", "cvv", "cvc")
# Values after such a word that are types, flags or masks, not secrets.
_NOT_SECRET_VALUES = frozenset(
    {
        "str", "string", "int", "bool", "bytes", "none", "null", "nil", "true", "false",
        "undefined", "required", "optional", "secretstr", "any", "redacted", "hidden",
    }
)  # fmt: skip
_AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA")  # fmt: skip


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


# OpenAI project/service-account/admin key prefixes, and Anthropic's (sk-ant-api03-, sk-ant-admin01-).
_SK_PREFIX = re.compile(r"sk-(?:proj|svcacct|admin|ant-[a-z]{2,8}[0-9]{2})-")
_SK_MIN_REST = 32
"""Characters after a distinctive prefix that make a key: real ones carry 40 to 160."""


def _sk_ok(token: str) -> bool:
    prefix = _SK_PREFIX.match(token)
    if prefix is not None and len(token) - prefix.end() >= _SK_MIN_REST:
        return True  # the prefix says what it is, whatever the rest looks like
    # Generated keys mix cases and digits; "sk-learn-compatible" does not.
    return _checks.high_entropy(token.rsplit("-", 1)[-1]) or _checks.high_entropy(token[3:])


def _basic_credentials_ok(token: str) -> bool:
    """``base64("user:password")``, as ``Basic`` authorization carries; words are not."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


def _short_word_value_ok(value: str) -> bool:
    # After "pwd"/"pass", a path is a working directory ("PWD=/home/app"), not a password.
    inner = value.strip("\"'")
    return _assignment_value_ok(value) and not inner.startswith(("/", "~", "./", "../", "\\"))


def _mrn_ok(candidate: str) -> bool:
    return sum(ch.isdigit() for ch in candidate) >= 4


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
            r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            required=("eyJ",),
        ),
        PatternDetector(
            "url_password",
            r"://(?<=[A-Za-z0-9+.-]://)[^\s:/?#@\[\]\"'<>]{0,256}:(?P<urlpw>[^\s/?#@\"'<>]{1,256})@",
            group="urlpw",
            required=("://",),
        ),
        PatternDetector(
            "api_key",
            r"sk-(?<![\w-]sk-)(?:ant-(?:api|admin)[0-9]{2}-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
            validate=_sk_ok,
            required=("sk-",),
        ),
        PatternDetector(
            "api_key",
            r"[sr]k_(?:live|test)_(?<![\w-].{8})[A-Za-z0-9]{16,}" + _NA,
            required=("_live_", "_test_"),
        ),
        PatternDetector(
            "api_key",
            r"AIza(?<![\w-]AIza)[0-9A-Za-z_-]{35}" + _NA,
            required=("AIza",),
        ),
        PatternDetector(
            "aws_access_key",
            r"A(?<![0-9A-Za-z]A)(?:"
            + "|".join(p[1:] for p in _AWS_PREFIXES)
            + r")[A-Z0-9]{16}"
            + _NA,
            required=("A",),
        ),
        PatternDetector(
            "aws_secret_key",
            r"aws[\w.-]{0,20}?secret[\w.-]{0,20}?[\"']?\s*[:=]\s*[\"']?"
            r"(?P<awss>[a-z0-9/+]{40})(?![a-z0-9/+=])",
            group="awss",
            required_lower=("aws",),
            lowercase=True,
        ),
        PatternDetector(
            "github_token",
            r"g(?<![\w-]g)(?:h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})" + _NA,
            required=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        ),
        PatternDetector(
            "slack_token",
            r"xox[abposre]-(?<![\w-]xox[abposre]-)[A-Za-z0-9-]{10,}",
            required=("xox",),
        ),
        PatternDetector(
            "slack_token",
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}",
            required=("hooks.slack.com",),
        ),
        PatternDetector(
            "bearer_token",
            r"bearer(?<![\w-]bearer)\s+(?P<bearer>[a-z0-9._~+/-]{8,}=*)",
            group="bearer",
            validate=_bearer_ok,
            min_digits=1,
            required_lower=("bearer",),
            lowercase=True,
        ),
        PatternDetector(
            "basic_auth",
            # The credentials of an Authorization / Proxy-Authorization header, whatever they hold.
            r"authorization[\"']?\s*[:=]\s*[\"']?basic\s+(?P<basic_h>[^\s\"',;]{1,1024})",
            group="basic_h",
            required_lower=("authorization",),
            lowercase=True,
        ),
        PatternDetector(
            "basic_auth",
            # "Basic <base64>" anywhere else, when it decodes to user:password.
            r"basic(?<![a-z0-9]basic)\s+(?P<basic>[a-z0-9+/]{6,1024}={0,2})(?![a-z0-9+/=])",
            group="basic",
            validate=_basic_credentials_ok,
            required_lower=("basic",),
            lowercase=True,
        ),
        PatternDetector(
            "cookie",
            # A Cookie or Set-Cookie header line (name=value first; "Cookie: chocolate chip" is
            # not one): every cookie in it, to the end of the line.
            r"cookie(?<![a-z0-9]cookie)[\"']?\s*:\s*[\"']?"
            r"(?P<cookie>[^\s=;,\"']{1,256}=[^\r\n\"']{0,4096})",
            group="cookie",
            required=("=",),
            required_lower=("cookie",),
            lowercase=True,
        ),
        PatternDetector(
            "secret_assignment",
            r"(?:" + _SECRET_WORDS + r")[\"']?\s*(?:=>|=|:)\s*"
            r"(?P<sav>\"[^\"\n]{1,512}\"|'[^'\n]{1,512}'|[^\s\"',;&}\])]{1,512})",
            group="sav",
            validate=_assignment_value_ok,
            required=("=", ":"),
            required_lower=_SECRET_HINTS,
            lowercase=True,
        ),
        PatternDetector(
            "secret_assignment",
            # pwd=..., pass: ... as a word of its own (db_pass, MYSQL_PWD too; not bypass, compass).
            r"p(?:wd|ass)(?<![a-z0-9]pwd)(?<![a-z0-9]pass)[\"']?\s*(?:=>|=|:)\s*"
            r"(?P<spv>\"[^\"\n]{1,512}\"|'[^'\n]{1,512}'|[^\s\"',;&}\])]{1,512})",
            group="spv",
            validate=_short_word_value_ok,
            required=("=", ":"),
            required_lower=("pwd", "pass"),
            lowercase=True,
        ),
        PatternDetector(
            "credit_card",
            r"[0-9](?<![0-9A-Za-z-][0-9])(?:[0-9]{12,18}|[0-9]{3}(?P<cc_sep>[ -])[0-9]{4}"
            r"(?P=cc_sep)[0-9]{4}(?P=cc_sep)[0-9]{1,7}|[0-9]{3}(?P<cc_sep2>[ -])[0-9]{6}"
            r"(?P=cc_sep2)[0-9]{4,5})(?![0-9A-Za-z-])",
            validate=_checks.card_ok,
            min_digits=13,
            numeric=True,
        ),
        IbanDetector(),
        PatternDetector(
            "ssn",
            r"[0-9](?<![\w-][0-9])[0-9]{2}(?P<ssn_sep>[- ])[0-9]{2}(?P=ssn_sep)[0-9]{4}(?![\w-])",
            validate=_checks.ssn_ok,
            min_digits=9,
            numeric=True,
        ),
        PatternDetector(
            "ssn",
            r"(?:ssn(?<![a-z0-9]ssn)|social(?<![a-z0-9]social)\s+security"
            r"(?:\s+(?:number|no\.?|#))?)[\s:#=\"'-]{0,5}(?P<ssn_bare>[0-9]{9})(?![0-9])",
            group="ssn_bare",
            validate=_bare_ssn_ok,
            min_digits=9,
            required_lower=("ssn", "social"),
            numeric=True,
            lowercase=True,
        ),
        EmailDetector(),
        PatternDetector(
            "mrn",
            # A medical record number after "MRN" or "medical record number": before the phone
            # patterns, which would otherwise take "MRN 00123456" for an international number.
            r"(?:mrn(?<![a-z0-9]mrn)|medical\s+record(?:\s+(?:number|no\.?|#))?)[\s:#=\"'.-]{1,5}"
            r"(?P<mrn>[a-z0-9][a-z0-9-]{3,19})(?![a-z0-9-])",
            group="mrn",
            validate=_mrn_ok,
            min_digits=4,
            required_lower=("mrn", "medical record"),
            lowercase=True,
        ),
        PatternDetector(
            "phone",
            r"(?<![\w+.-])(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])"
            r"[2-9][0-9]{2}[ .-][0-9]{4}(?![\w-]|\.[0-9])",
            min_digits=10,
            numeric=True,
        ),
        PatternDetector(
            "phone",
            r"[+0](?<![\w+][+0])(?<![0-9][ .-][+0])(?:(?<=\+)|(?<=0)0)[1-9][0-9]{0,2}"
            r"(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}(?![\w-]|\.[0-9])",
            validate=_digit_count_between(8, 15),
            min_digits=8,
            required=("+", "00"),
            numeric=True,
        ),
        PatternDetector(
            "phone",
            r"(?:phone(?<![a-z]phone)|telephone(?<![a-z]telephone)|tel(?<![a-z]tel)|"
            r"mobile(?<![a-z]mobile)|cell(?<![a-z]cell)|fax(?<![a-z]fax))"
            r"(?:\s+(?:no\.?|number|#))?[\s:#=\"'.-]{1,5}"
            r"(?P<ph_bare>\+?\(?[0-9][0-9 ().-]{5,18}[0-9])(?![\w-])",
            group="ph_bare",
            validate=_digit_count_between(7, 15),
            min_digits=7,
            required_lower=("phone", "tel", "mobile", "cell", "fax"),
            numeric=True,
            lowercase=True,
        ),
        PatternDetector(
            "ip_address",
            # Not after "Name/": "Chrome/120.0.0.0" in a user agent is a version, not an address.
            r"[0-9](?<![\w.][0-9])(?<![A-Za-z0-9_]/[0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
            r"(?![\w]|\.[0-9])",
            validate=_checks.ipv4_ok,
            min_digits=4,
            required=(".",),
            numeric=True,
        ),
        Ipv6Detector(),
    ]
    for detector in detectors:
        detector.builtin = True
    return detectors
