# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Redaction profiles (hipaa, pci, gdpr), medical record numbers, and `toolaudit pseudonym`."""

from __future__ import annotations

import logging

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

KEY = b"profile-test-key-0123456789abcdef"
REDACTED = RedactionPolicy.REDACTED


def policy(profile: str | None = None) -> RedactionPolicy:
    return RedactionPolicy(hash_key=KEY, profile=profile)


def test_hipaa_redacts_clinical_keys_and_pseudonymizes_identifiers():
    """Under hipaa, clinical values are removed and Safe Harbor identifiers become pseudonyms."""
    value = {
        "treatment": "metformin 1000mg",
        "diagnosis": "HIV positive",
        "patient_name": "Jane Doe",
        "name": "Jane Doe",
        "date_of_service": "2026-03-02",
        "member_id": "W123456789",
        "zip_code": "94110",
        "order_id": "ORD-1",
    }
    hipaa = policy("hipaa")
    assert hipaa.redact(value) == {
        "treatment": REDACTED,
        "diagnosis": REDACTED,
        "patient_name": hipaa.pseudonym("Jane Doe"),
        "name": hipaa.pseudonym("Jane Doe"),
        "date_of_service": hipaa.pseudonym("2026-03-02"),
        "member_id": hipaa.pseudonym("W123456789"),
        "zip_code": hipaa.pseudonym("94110"),
        "order_id": "ORD-1",
    }
    assert policy().redact(value)["treatment"] == "metformin 1000mg"


def test_hipaa_finds_dates_of_birth_in_free_text():
    """Under hipaa, a date after "DOB", "date of birth" or "born" is removed; other dates stay."""
    text = "Jane, DOB: 1984-03-02 (born March 2, 1984), seen on 2026-11-24"
    assert policy("hipaa").redact(text) == (
        "Jane, DOB: <DATE_OF_BIRTH> (born <DATE_OF_BIRTH>), seen on 2026-11-24"
    )
    assert policy().redact(text) == text


@pytest.mark.parametrize("profile", [None, "hipaa", "pci", "gdpr"])
def test_mrn_is_a_medical_record_number_not_a_phone(profile):
    """A number after "MRN" is found as a medical record number, never a phone, in every profile."""
    chosen = policy(profile)
    assert chosen.findings("MRN 00123456") == ["mrn"]
    assert chosen.redact("MRN 00123456") == f"MRN <MRN:{chosen.pseudonym('00123456')}>"


def test_mrn_in_text_links_to_the_mrn_key():
    """An MRN found in text carries the pseudonym its value gets under an ``mrn`` key."""
    chosen = policy("hipaa")
    assert chosen.redact({"mrn": "A1234567"})["mrn"] in chosen.redact("mrn: A1234567")


def test_pci_removes_cardholder_data_and_sensitive_authentication_data():
    """Under pci, card keys, track data, verification codes and expiry dates are removed."""
    pci = policy("pci")
    assert pci.redact(
        {"cardholder_name": "JANE DOE", "expiry": "04/27", "service_code": "101", "pin": "1234"}
    ) == {
        "cardholder_name": pci.pseudonym("JANE DOE"),
        "expiry": REDACTED,
        "service_code": REDACTED,
        "pin": REDACTED,
    }
    assert pci.redact("card 4111 1111 1111 1111 exp 04/27 cvv 123") == (
        "card <CREDIT_CARD> exp <CARD_EXPIRY> cvv <CARD_VERIFICATION>"
    )
    assert pci.redact("swipe ;4111111111111111=27121010000000000?") == "swipe <TRACK_DATA>"


def test_gdpr_removes_special_categories():
    """Under gdpr, special-category values (religion, health, orientation...) are removed."""
    value = {"religion": "x", "sexual_orientation": "y", "health_data": "z", "city": "Lyon"}
    assert policy("gdpr").redact(value) == {
        "religion": REDACTED,
        "sexual_orientation": REDACTED,
        "health_data": REDACTED,
        "city": "Lyon",
    }


def test_profiles_combine():
    """Several profiles add up: ``hipaa,pci`` removes both kinds of data."""
    both = policy("hipaa,pci")
    assert both.profile == ("hipaa", "pci")
    assert both.redact({"diagnosis": "a", "cvv2": "123"}) == {
        "diagnosis": REDACTED,
        "cvv2": REDACTED,
    }


def test_profile_from_environment(monkeypatch, caplog):
    """``OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE`` chooses the profile; an unknown one is logged
    and the default profile used."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE", "HIPAA")
    assert RedactionPolicy.from_env(hash_key=KEY).profile == ("hipaa",)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE", "sox")
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        assert RedactionPolicy.from_env(hash_key=KEY).profile == ("default",)
    assert "unknown redaction profile sox" in caplog.text


def test_unknown_profile_is_refused_in_code():
    """``RedactionPolicy(profile="sox")`` raises ValueError naming the known profiles."""
    with pytest.raises(ValueError, match="known: default, hipaa, pci, gdpr"):
        RedactionPolicy(profile="sox")


def test_pseudonym_command_prints_the_policy_pseudonym(monkeypatch, capsys):
    """`toolaudit pseudonym VALUE` prints what the policy makes of VALUE, and never the value."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", KEY.decode())
    assert cli.main(["pseudonym", "P-1001"]) == 0
    out, err = capsys.readouterr()
    assert out == RedactionPolicy.from_env().pseudonym("P-1001") + "\n"
    assert "P-1001" not in out + err


def test_pseudonym_command_reads_stdin_and_normalizes(monkeypatch, capsys):
    """`toolaudit pseudonym - --as email` reads the value from stdin and normalizes it as an
    email key's value is, so it matches the pseudonym in a record."""
    import io

    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", KEY.decode())
    monkeypatch.setattr("sys.stdin", io.StringIO("Jane@Example.COM\n"))
    assert cli.main(["pseudonym", "-", "--as", "email"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == RedactionPolicy.from_env().redact({"email": "jane@example.com"})["email"]
    assert "Jane" not in out + err


def test_pseudonym_command_refuses_a_throwaway_key(monkeypatch, tmp_path, capsys):
    """Without a usable hash key the command exits 2 rather than print a pseudonym that matches
    nothing."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "short")
    assert cli.main(["pseudonym", "P-1001"]) == 2
    out, err = capsys.readouterr()
    assert (out, "P-1001" in err, "no usable hash key" in err) == ("", False, True)


def test_pseudonym_command_never_creates_a_key(monkeypatch, tmp_path, capsys):
    """Without the writer's key (no variable, no key file), the command exits 2 naming the file
    and creates no key: a new key's pseudonym would match nothing."""
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(tmp_path / "hash.key"))
    assert cli.main(["pseudonym", "P-1001"]) == 2
    out, err = capsys.readouterr()
    assert (out, f"no hash key at {tmp_path / 'hash.key'}" in err) == ("", True)
    assert not (tmp_path / "hash.key").exists()
