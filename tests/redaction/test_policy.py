# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RedactionPolicy: keys, pseudonyms, free text, JSON in strings, configuration, never raising."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re

import pytest

from opentelemetry_instrumentation_toolaudit.redaction import (
    Finding,
    HashKey,
    PatternDetector,
    RedactionPolicy,
)
from opentelemetry_instrumentation_toolaudit.redaction import _policy as policy_module

REDACTED = RedactionPolicy.REDACTED
KEY = b"policy-test-key-0123456789abcdef"
PSEUDONYM = re.compile(r"hmac-sha256:[A-Za-z0-9._-]+:[0-9a-f]{32}")


@pytest.fixture
def policy() -> RedactionPolicy:
    return RedactionPolicy(hash_key=KEY, key_id="k1")


def test_secret_keys_any_case_separator_camel_and_depth(policy):
    """Secret keys are matched whatever their case, separators or camelCase, at any depth."""
    value = {
        "Password": "p",
        "nested": {
            "API-Key": "k",
            "apiKey": "k",
            "X_API_KEY": "k",
            "list": [{"Authorization": "Bearer x", "client_secret": "s"}],
        },
        "db_password": "hunter2",
        "stripeApiKey": "sk",
        "card_number": "4111 1111 1111 1111",
        "cvv": "123",
        "refresh_token": "r",
        "cookie": "c",
        "order_id": "ORD-1",
        "has_password": True,
        "token": None,
    }
    assert policy.redact(value) == {
        "Password": REDACTED,
        "nested": {
            "API-Key": REDACTED,
            "apiKey": REDACTED,
            "X_API_KEY": REDACTED,
            "list": [{"Authorization": REDACTED, "client_secret": REDACTED}],
        },
        "db_password": REDACTED,
        "stripeApiKey": REDACTED,
        "card_number": REDACTED,
        "cvv": REDACTED,
        "refresh_token": REDACTED,
        "cookie": REDACTED,
        "order_id": "ORD-1",
        "has_password": True,
        "token": None,
    }


def test_hashes_of_secrets_and_personal_values(policy):
    """A hash or digest under a secret key's name is a secret; under a personal-data key's name, a
    pseudonym (an unkeyed email hash is reversed by guessing); other hashes are plain values."""
    digest = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    value = {
        "password_hash": "$2b$12$abcdefghijklmnopqrstuv",
        "passwordDigest": digest,
        "api_key_sha256": digest,
        "pass": "hunter2",
        "email_sha256": digest,
        "content_hash": digest,
        "token_count": 12,
    }
    assert policy.redact(value) == {
        "password_hash": REDACTED,
        "passwordDigest": REDACTED,
        "api_key_sha256": REDACTED,
        "pass": REDACTED,
        "email_sha256": policy.pseudonym(digest),
        "content_hash": digest,
        "token_count": 12,
    }


def test_secret_under_key_redacted_whole(policy):
    """A dict or list under a secret key is replaced whole, not walked."""
    assert policy.redact({"credentials": {"user": "u", "pw": "p"}}) == {"credentials": REDACTED}


def test_pseudonym_keys_are_linkable_and_keyed(policy):
    """Values under personal-data keys become stable keyed pseudonyms with the key id."""
    first = policy.redact(
        {"patient_name": "Jane Doe", "email": "Jane@Example.com", "dob": "1984-03-02"}
    )
    second = policy.redact({"full_name": "Jane Doe", "EMAIL": "jane@example.com"})
    assert first["patient_name"] == second["full_name"] == policy.pseudonym("Jane Doe")
    assert first["email"] == second["EMAIL"] == policy.pseudonym("jane@example.com")
    assert first["patient_name"].startswith("hmac-sha256:k1:")
    assert [bool(PSEUDONYM.fullmatch(v)) for v in first.values()] == [True, True, True]


def test_pseudonym_is_not_a_bare_hash():
    """A pseudonym cannot be tested against a guess without the key (unlike sha256(value))."""
    ssn = "123-45-6789"
    a = RedactionPolicy(hash_key=b"key-a-0123456789abcdef").pseudonym(ssn)
    b = RedactionPolicy(hash_key=b"key-b-0123456789abcdef").pseudonym(ssn)
    bare = hashlib.sha256(ssn.encode()).hexdigest()
    assert a != b
    assert bare[:32] not in a
    assert a.split(":")[1] != b.split(":")[1]


def test_pseudonym_key_id_rotation():
    """The key id in each pseudonym names the key: rotating keys changes both id and digest."""
    old = RedactionPolicy(hash_key=b"old-key-0123456789abcdef", key_id="2024")
    new = RedactionPolicy(hash_key=b"new-key-0123456789abcdef", key_id="2025")
    assert (old.pseudonym("x").split(":")[1], new.pseudonym("x").split(":")[1]) == ("2024", "2025")


def test_pseudonym_nested_and_non_string_values(policy):
    """Pseudonym keys keep the shape of nested values; numbers are pseudonymized, booleans kept."""
    out = policy.redact(
        {"address": {"street": "1 Main St", "zip": 94103}, "phone": 4155552671, "email": None}
    )
    assert PSEUDONYM.fullmatch(out["address"]["street"])
    assert out["address"]["zip"] == policy.pseudonym("94103")
    assert out["phone"] == policy.pseudonym("4155552671")
    assert out["email"] is None


def test_free_text_kinds_and_placeholders(policy):
    """Free text gets typed placeholders; linkable kinds carry the keyed pseudonym."""
    text = (
        "Mail jane@example.com, card 4111-1111-1111-1111, SSN 219-09-9998, "
        "IBAN GB82 WEST 1234 5698 7654 32, from 203.0.113.9, call +44 20 7946 0958"
    )
    assert policy.redact(text) == (
        f"Mail <EMAIL:{policy.pseudonym('jane@example.com')}>, card <CREDIT_CARD>, SSN <SSN>, "
        f"IBAN <IBAN>, from <IP_ADDRESS:{policy.pseudonym('203.0.113.9')}>, "
        f"call <PHONE:{policy.pseudonym('442079460958')}>"
    )


def test_secrets_in_free_text(policy):
    """API keys, AWS ids, GitHub/Slack tokens, JWTs, bearer tokens and URL passwords are removed."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    text = (
        "key sk-proj-Ab3dEfGh1jKlMnOpQrStUvWx12 id AKIAIOSFODNN7EXAMPLE "
        "gh ghp_0123456789abcdefABCDEF0123456789abcd slack xoxb-1234567890-abcdefGHIJ "
        f"jwt {jwt} Authorization: Bearer abc.def123456 db postgres://app:s3cr3t!@db:5432/x "
        "password=hunter22"
    )
    assert policy.redact(text) == (
        "key <API_KEY> id <AWS_ACCESS_KEY> gh <GITHUB_TOKEN> slack <SLACK_TOKEN> jwt <JWT> "
        "Authorization: Bearer <BEARER_TOKEN> db postgres://app:<PASSWORD>@db:5432/x password=<SECRET>"
    )


def test_auth_headers_cookies_and_short_password_words(policy):
    """Basic credentials (Authorization and Proxy-Authorization), Cookie/Set-Cookie header lines,
    and pwd=/passwd=/pass= assignments are removed from free text; near misses are kept."""
    basic = "YWRtaW46czNjcjN0IQ=="  # admin:s3cr3t!
    lines = [
        f"Authorization: Basic {basic}",
        f"Proxy-Authorization: basic {basic}",
        f"retrying with basic {basic}",
        "Cookie: session=9f8e7d6c5b4a; theme=dark",
        "Set-Cookie: sid=Zx81Kq0PwLm; Path=/; HttpOnly",
        "pwd=hunter22 passwd=hunter22 pass=hunter22 MYSQL_PWD='hunter 22'",
        "basic plan; Cookie: chocolate chip; bypass=1; test pass: 5/5; PWD=/home/app",
    ]
    assert [policy.redact(line) for line in lines] == [
        "Authorization: Basic <BASIC_AUTH>",
        "Proxy-Authorization: basic <BASIC_AUTH>",
        "retrying with basic <BASIC_AUTH>",
        "Cookie: <COOKIE>",
        "Set-Cookie: <COOKIE>",
        "pwd=<SECRET> passwd=<SECRET> pass=<SECRET> MYSQL_PWD=<SECRET>",
        "basic plan; Cookie: chocolate chip; bypass=1; test pass: 5/5; PWD=/home/app",
    ]


def test_url_password_keeps_the_host(policy):
    """Only the password of a connection URL goes: the host after it stays, even where the
    password and host together look like an email address."""
    assert policy.redact("mongodb+srv://admin:pw@cluster0.example.net/db?retryWrites=true") == (
        "mongodb+srv://admin:<PASSWORD>@cluster0.example.net/db?retryWrites=true"
    )
    assert policy.findings("postgresql://app:p4ss@db.internal:5432/orders") == ["url_password"]


def test_prefixed_api_keys_need_no_entropy(policy):
    """sk-ant-api03-, sk-proj-, sk-svcacct- and sk-admin- keys are caught whatever their remainder
    looks like; the same prefixes on short names, and sk- words, are not keys."""
    keys = [
        "sk-ant-api03-" + "abcdefghij" * 9 + "-AA",
        "sk-proj-" + "a" * 48,
        "sk-svcacct-" + "abcdefghij" * 4,
        "sk-admin-" + "0123456789abcdef" * 3,
    ]
    assert [policy.redact(f"key {key}") for key in keys] == ["key <API_KEY>"] * 4
    assert policy.findings("sk-proj-frontend-team-config sk-learn-compatible-estimator") == []


def test_luhn_and_iin_decide_cards(policy):
    """16 digits are a card only with a known issuer prefix and a valid Luhn check."""
    assert [
        policy.findings(t) for t in ("4111111111111111", "4111111111111112", "1111111111111117")
    ] == [
        ["credit_card"],
        [],
        [],
    ]


def test_ssn_invalid_areas_are_not_ssns(policy):
    """Areas 000, 666 and 9xx, group 00 and serial 0000 are not SSNs."""
    texts = [
        "SSN 000-12-3456",
        "SSN 666-12-3456",
        "SSN 912-12-3456",
        "SSN 123-00-4567",
        "SSN 123-45-0000",
    ]
    assert [policy.findings(t) for t in texts] == [[], [], [], [], []]
    assert policy.findings("SSN 219-09-9998") == ["ssn"]


def test_iban_mod97(policy):
    """An IBAN counts only with its country's length and a valid mod-97 check."""
    assert (
        policy.findings("GB82WEST12345698765432"),
        policy.findings("GB83WEST12345698765432"),
    ) == (
        ["iban"],
        [],
    )


def test_json_string_redacted_as_structure(policy):
    """A JSON object inside a string is parsed, redacted by key and text, and written back."""
    value = {"arguments": json.dumps({"password": "x", "note": "mail a@b.co", "n": 1})}
    out = policy.redact(value)
    assert json.loads(out["arguments"]) == {
        "password": REDACTED,
        "note": f"mail <EMAIL:{policy.pseudonym('a@b.co')}>",
        "n": 1,
    }


def test_clean_json_string_kept_verbatim(policy):
    """A JSON string with nothing to redact is returned as is, formatting included."""
    text = '{ "order_id" : "ORD-1",\n  "status": "shipped" }'
    assert policy.redact(text) is text


def test_dict_keys_are_scanned(policy):
    """A key that is itself personal data is redacted too."""
    assert policy.redact({"jane@example.com": 1}) == {
        f"<EMAIL:{policy.pseudonym('jane@example.com')}>": 1
    }


def test_int_card_number(policy):
    """A card number passed as an integer is caught."""
    assert policy.redact({"note": 4111111111111111, "count": 3}) == {
        "note": "<CREDIT_CARD>",
        "count": 3,
    }


def test_idempotent_and_no_findings_after(policy):
    """redact(redact(x)) == redact(x) and findings(redact(x)) == []."""
    value = {
        "q": "jane@example.com 4111 1111 1111 1111 password: hunter22 10.1.2.3",
        "email": "a@b.co",
        "token": "t",
        "list": ["AKIAIOSFODNN7EXAMPLE", {"ssn": "219-09-9998"}],
    }
    once = policy.redact(value)
    assert policy.redact(once) == once
    assert policy.findings(once) == []
    assert policy.findings(value) == [
        "aws_access_key",
        "credit_card",
        "email",
        "ip_address",
        "pii_key",
        "secret_assignment",
        "secret_key",
    ]


def test_adjacent_findings_rescanned(policy):
    """Findings that touch their neighbours are rescanned until nothing is left."""
    text = "x4111111111111111 a@b.co4111111111111111 10.0.0.1:8080/jane@example.com"
    out = policy.redact(text)
    assert policy.findings(out) == []
    assert policy.redact(out) == out


def test_never_raises_on_hostile_input(policy):
    """Odd types, cycles, NaN, surrogates, deep nesting and bytes are handled without raising."""
    cyclic: dict = {}
    cyclic["self"] = cyclic
    deep: list = []
    node = deep
    for _ in range(200):
        node.append([])
        node = node[0]

    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

    values = [cyclic, deep, math.nan, "\ud800 lone surrogate a@b.co", b"\x00bytes", {1: "x", None: 2},
              Hostile(), {"k": {1, 2}}, ("t", 4111111111111111), "{not json", "[" * 5000]  # fmt: skip
    for value in values:
        policy.redact(value)
        policy.findings(value)
    # A cycle is cut at the depth limit, which fails closed and is reported.
    assert policy.findings(cyclic) == ["max_depth"]
    assert policy.findings(policy.redact(cyclic)) == []
    assert policy.redact("\ud800 lone surrogate a@b.co") == (
        f"\ud800 lone surrogate <EMAIL:{policy.pseudonym('a@b.co')}>"
    )


def test_internal_failure_fails_closed(policy, monkeypatch):
    """If redaction itself breaks, the value is replaced whole (nothing leaks) and it is counted."""
    from opentelemetry_instrumentation_toolaudit import error_counts

    def broken(*args: object) -> object:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(policy, "_text", broken)
    before = error_counts().get("redacting a value", 0)
    assert policy.redact({"note": "a@b.co"}) == REDACTED
    assert error_counts()["redacting a value"] == before + 1


def test_configurable_keys():
    """Keys can be added to either vocabulary and removed from the defaults."""
    policy = RedactionPolicy(
        hash_key=KEY,
        extra_secret_keys=["pin_code"],
        extra_pseudonym_keys=["member_no"],
        keep_keys=["token"],
    )
    out = policy.redact(
        {"pin_code": "1234", "member_no": "M-1", "token": "next-page", "password": "p"}
    )
    assert (out["pin_code"], out["token"], out["password"]) == (REDACTED, "next-page", REDACTED)
    assert out["member_no"] == policy.pseudonym("M-1")


def test_disabled_kinds_and_plain_placeholders():
    """Kinds can be turned off, and pseudonymized kinds chosen."""
    policy = RedactionPolicy(hash_key=KEY, disabled_kinds=["ip_address"], pseudonymize_kinds=[])
    assert policy.redact("from 10.1.2.3 mail a@b.co") == "from 10.1.2.3 mail <EMAIL>"


def test_attribution_addresses_modes():
    """Addresses under client.address-like keys are kept, pseudonymized or redacted by policy."""
    value = {
        "client.address": "10.0.1.5",
        "client_ip": "2001:db8::1",
        "server.address": "api.example.com",
    }
    keep = RedactionPolicy(hash_key=KEY).redact(value)
    pseudo = RedactionPolicy(hash_key=KEY, attribution_addresses="pseudonymize")
    redact = RedactionPolicy(hash_key=KEY, attribution_addresses="redact").redact(value)
    assert keep == value
    assert pseudo.redact(value) == {
        "client.address": pseudo.pseudonym("10.0.1.5"),
        "client_ip": pseudo.pseudonym("2001:db8::1"),
        "server.address": "api.example.com",
    }
    assert redact == {
        "client.address": REDACTED,
        "client_ip": REDACTED,
        "server.address": "api.example.com",
    }


def test_address_keys_do_not_shelter_other_data():
    """Under an address key, only an IP address is kept: anything else is redacted as usual."""
    policy = RedactionPolicy(hash_key=KEY)
    assert policy.redact({"client.address": "jane@example.com"}) == {
        "client.address": f"<EMAIL:{policy.pseudonym('jane@example.com')}>"
    }


def test_custom_detector_callable():
    """Any callable returning Findings plugs in; its kind becomes the placeholder label."""

    def employee_ids(text: str) -> list[Finding]:
        return [Finding("employee_id", m.start(), m.end()) for m in re.finditer(r"EMP\d{4}", text)]

    policy = RedactionPolicy(hash_key=KEY, extra_detectors=[employee_ids])
    assert policy.redact("by EMP1234 and EMP9") == "by <EMPLOYEE_ID> and EMP9"
    assert policy.findings("by EMP1234") == ["employee_id"]


def test_custom_pattern_detector():
    """A PatternDetector with a validator is a one-liner detector."""
    detector = PatternDetector("ticket", r"TCK-\d{6}", validate=lambda t: not t.endswith("000000"))
    policy = RedactionPolicy(hash_key=KEY, detectors=[detector])
    assert policy.redact("TCK-123456 TCK-000000 a@b.co") == "<TICKET> TCK-000000 a@b.co"


def test_no_key_is_ephemeral_with_warning(caplog, monkeypatch):
    """RedactionPolicy() uses a per-process key and warns once that pseudonyms are not stable."""
    monkeypatch.setattr(policy_module, "_warned_ephemeral", False)
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        a, b = RedactionPolicy(), RedactionPolicy()
        first = a.pseudonym("x")
        assert b.pseudonym("x") == first
        a.pseudonym("y")
    warnings = [r.getMessage() for r in caplog.records if "ephemeral" in r.getMessage()]
    assert len(warnings) == 1
    assert a.hash_key.ephemeral is True
    assert first.split(":")[1].startswith("e")


def test_from_env_reads_configuration(monkeypatch):
    """from_env reads the key, key id, key lists, disabled kinds, address and content modes."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "env-key-0123456789abcdef")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID", "prod1")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REDACT_KEYS", "pin_code, badge")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS", "member_no")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_KEEP_KEYS", "token")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REDACT_DISABLED_KINDS", "phone")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_ATTRIBUTION_ADDRESSES", "redact")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CONTENT", "redact")
    policy = RedactionPolicy.from_env()
    expected = RedactionPolicy(hash_key=HashKey(b"env-key-0123456789abcdef", "prod1"))
    assert policy.pseudonym("x") == expected.pseudonym("x")
    assert policy.pseudonym("x").split(":")[1] == "prod1"
    assert policy.redact(
        {
            "pin_code": "1",
            "badge": "2",
            "member_no": "3",
            "token": "4",
            "client.address": "10.0.0.1",
        }
    ) == {
        "pin_code": REDACTED,
        "badge": REDACTED,
        "member_no": policy.pseudonym("3"),
        "token": "4",
        "client.address": REDACTED,
    }
    assert policy.redact("call (415) 555-2671") == "call (415) 555-2671"
    assert (policy.content, policy.attribution_addresses) == ("redact", "redact")


def test_from_env_ignores_bad_modes(monkeypatch, caplog):
    """An invalid mode is logged (name only) and the default kept."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CONTENT", "shout")
    with caplog.at_level(logging.WARNING):
        policy = RedactionPolicy.from_env()
    assert policy.content == "hash"
    assert any("OTEL_PYTHON_TOOLAUDIT_CONTENT" in r.getMessage() for r in caplog.records)


def test_invalid_arguments_raise_clear_errors():
    """Bad constructor arguments are programming errors and say which argument is wrong."""
    with pytest.raises(ValueError, match="attribution_addresses"):
        RedactionPolicy(attribution_addresses="hide")
    with pytest.raises(ValueError, match="content"):
        RedactionPolicy(content="drop")
    with pytest.raises(ValueError, match="key id"):
        RedactionPolicy(hash_key=KEY, key_id="has:colon")


def test_no_value_in_logs_or_errors(policy, caplog, monkeypatch):
    """Neither a redacted value nor the key appears in our log output, even on internal failure."""
    monkeypatch.setattr(policy, "_text", lambda *a: 1 / 0)
    with caplog.at_level(logging.DEBUG):
        policy.redact({"note": "jane@example.com 4111111111111111"})
        repr(policy.hash_key)
    text = caplog.text + repr(policy.hash_key)
    assert ("jane@example.com" in text, "4111111111111111" in text, KEY.decode() in text) == (
        False,
        False,
        False,
    )


def test_redaction_all_is_sorted_and_complete():
    """The redaction package's public names are all in its sorted __all__."""
    import types

    from opentelemetry_instrumentation_toolaudit import redaction

    public = {
        name
        for name, value in vars(redaction).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert (redaction.__all__ == sorted(redaction.__all__), set(redaction.__all__)) == (
        True,
        public,
    )
