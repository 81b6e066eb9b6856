# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The labeled corpus: per-kind recall, false positives on near misses, structured cases.

The corpus (``tests/redaction/corpus``, made by ``generate.py`` with its own Luhn and mod-97 code)
holds positives of every kind, JSON values with secrets at any depth, and near-miss negatives. The
table printed here is the one the README quotes.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

CORPUS = Path(__file__).resolve().parent / "corpus"
CHECKSUM_KINDS = ("credit_card", "iban", "ssn")
"""Kinds validated by a checksum or issuing rules: nothing less than full recall is acceptable."""
PII_KINDS = (*CHECKSUM_KINDS, "email", "phone", "ip_address")
"""Kinds reported under their own name; a secret inside another (a GitHub token as the password of
a URL, a JWT as a bearer token) is reported as the more specific container."""


def load(name: str) -> list[dict[str, Any]]:
    with open(CORPUS / f"{name}.ndjson", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


HASH_KEY = b"corpus-test-key-0123456789abcdef"
PROFILES = ("hipaa", "pci", "gdpr", "hipaa,pci,gdpr")
"""Profiles the negatives must pass unchanged, besides the default."""


@pytest.fixture(scope="module")
def policy() -> RedactionPolicy:
    return RedactionPolicy(hash_key=HASH_KEY)


def recall_table(policy: RedactionPolicy) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Each row is scored under its own profile (a ``profile`` field), else under ``policy``."""
    caught: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    wrong_kind: list[str] = []
    profiled = {name: RedactionPolicy(hash_key=HASH_KEY, profile=name) for name in PROFILES}
    for row in load("positives"):
        row_policy = profiled[row["profile"]] if "profile" in row else policy
        out = row_policy.redact(row["text"])
        total[row["kind"]] += 1
        # Caught: every value gone, and what must stay (a URL's host beside its password) still there.
        if all(value not in out for value in row["values"]) and all(
            kept in out for kept in row.get("kept", ())
        ):
            caught[row["kind"]] += 1
        if row["kind"] in PII_KINDS and row["kind"] not in row_policy.findings(row["text"]):
            wrong_kind.append(row["kind"])
    return {kind: (caught[kind], total[kind]) for kind in total}, wrong_kind


def test_recall_per_kind(policy, capsys):
    """Every kind is caught on the corpus; checksum-validated kinds at recall 1.0 (table printed)."""
    table, wrong_kind = recall_table(policy)
    with capsys.disabled():
        print("\nredaction corpus recall (caught/total):")
        for kind, (caught, total) in sorted(table.items()):
            print(f"  {kind:<18} {caught:>3}/{total:<3} {caught / total:.3f}")
    assert {kind: table[kind][0] / table[kind][1] for kind in CHECKSUM_KINDS} == dict.fromkeys(
        CHECKSUM_KINDS, 1.0
    )
    assert {kind for kind, (caught, total) in table.items() if caught < total} == set()
    assert wrong_kind == []
    assert len(table) >= 18


def test_negatives_unchanged(policy, capsys):
    """No near miss (ids, digests, timestamps, versions, Luhn failures...) is changed or flagged."""
    rows = load("negatives")
    changed = [row for row in rows if policy.redact(row["text"]) != row["text"]]
    flagged = [row for row in rows if policy.findings(row["text"])]
    categories = collections.Counter(row["category"] for row in rows)
    with capsys.disabled():
        print(
            f"\nredaction corpus negatives: {len(rows)} in {len(categories)} categories, "
            f"false-positive rate {len(changed) / len(rows):.3f}"
        )
    assert [row["text"] for row in changed] == []
    assert [row["text"] for row in flagged] == []
    assert len(rows) >= 500


@pytest.mark.parametrize("profile", PROFILES)
def test_negatives_unchanged_under_profiles(profile):
    """No near miss is changed or flagged under the hipaa, pci and gdpr profiles either."""
    policy = RedactionPolicy(hash_key=HASH_KEY, profile=profile)
    rows = load("negatives")
    assert [row["text"] for row in rows if policy.redact(row["text"]) != row["text"]] == []
    assert [row["text"] for row in rows if policy.findings(row["text"])] == []


def test_profile_kinds_are_in_the_corpus():
    """The corpus holds medical record numbers, dates of birth and the card data a profile adds."""
    kinds = {row["kind"] for row in load("positives")}
    assert {"mrn", "date_of_birth", "track_data", "card_verification", "card_expiry"} <= kinds


def test_structured_cases(policy):
    """JSON values with secrets at any depth, in lists and in JSON strings, lose every secret."""
    for row in load("structured"):
        redacted = policy.redact(row["value"])
        dumped = json.dumps(redacted, ensure_ascii=False)
        assert [s for s in row["secrets"] if s in dumped] == []
        assert policy.findings(row["value"]) == row["kinds"]
        assert policy.findings(redacted) == []
        assert type(redacted) is type(row["value"])


def test_corpus_checksums_are_real():
    """The corpus's card numbers pass Luhn and its negatives' card-like numbers do not."""

    def luhn(number: str) -> bool:
        digits = [int(c) for c in number if c.isdigit()][::-1]
        return (
            sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
            % 10
            == 0
        )

    cards = [row["values"][0] for row in load("positives") if row["kind"] == "credit_card"]
    fails = [
        row["text"].removeprefix("ref ")
        for row in load("negatives")
        if row["category"] == "card_luhn_fail"
    ]
    assert (all(map(luhn, cards)), any(map(luhn, fails))) == (True, False)
