# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The retention policy: categories from TOML or the defaults, the longest period wins."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import _env
from opentelemetry_instrumentation_toolaudit.export import RetentionPolicy, RetentionPolicyError

DAY = datetime.date(2026, 1, 31)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_env, "_warned", set())


def test_defaults_give_financial_healthcare_and_general_periods():
    """Without a file: financial tools 2555 days, healthcare 2190, any other tool 365."""
    policy = RetentionPolicy()
    assert policy.retain_until("issue_refund", DAY) == DAY + datetime.timedelta(days=2555)
    assert policy.retain_until("update_treatment", DAY) == DAY + datetime.timedelta(days=2190)
    assert policy.retain_until("lookup_order", DAY) == DAY + datetime.timedelta(days=365)
    assert policy.retain_until(None, DAY) == DAY + datetime.timedelta(days=365)
    assert policy.categories_for("charge_payment") == ["financial", "general"]
    assert policy.categories_for("lookup_order") == ["general"]


def test_a_file_replaces_the_defaults_and_the_longest_period_wins(tmp_path: Path):
    """A tool in two categories of the file is kept for the longer period."""
    path = tmp_path / "retention.toml"
    path.write_text(
        "[retention.tax]\nretention_days = 3650\ntools = ['issue_refund']\n"
        "[retention.short]\nretention_days = 30\ntools = ['issue_refund', 'ping']\n"
        "[retention.general]\nretention_days = 90\ntools = '*'\n",
        encoding="utf-8",
    )
    policy = RetentionPolicy.from_env({"OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE": str(path)})
    assert policy.retention_days("issue_refund") == 3650
    assert policy.retention_days("ping") == 90
    assert policy.retention_days("charge_payment") == 90
    assert policy.categories_for("ping") == ["short", "general"]


def test_recorded_at_may_be_a_timestamp_or_a_datetime():
    """retain_until takes the record's RFC 3339 time or a datetime, and counts from its UTC date."""
    policy = RetentionPolicy()
    late = datetime.datetime(
        2026, 1, 31, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-2))
    )
    assert policy.retain_until("lookup_order", "2026-01-31T10:00:00.000000Z") == datetime.date(
        2027, 1, 31
    )
    assert policy.retain_until("lookup_order", late) == datetime.date(2027, 2, 1)
    assert policy.retain_until_text("lookup_order", 1_769_817_600) == "2027-01-31"


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        "[other]\nx = 1\n",
        "[retention.a]\nretention_days = 'long'\ntools = '*'\n",
        "[retention.a]\nretention_days = 10\ntools = 'issue_refund'\n",
    ],
)
def test_an_invalid_file_is_logged_once_by_name_and_the_defaults_used(tmp_path, caplog, text):
    """A file that is not a retention policy is logged once, by variable name, and the defaults apply."""
    path = tmp_path / "retention.toml"
    path.write_text(text, encoding="utf-8")
    env = {"OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE": str(path)}
    with pytest.raises(RetentionPolicyError):
        RetentionPolicy.from_file(path)
    with caplog.at_level(logging.WARNING):
        policies = [RetentionPolicy.from_env(env) for _ in range(2)]
    assert [p.retention_days("issue_refund") for p in policies] == [2555, 2555]
    (message,) = [r.getMessage() for r in caplog.records]
    assert "OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE" in message and str(path) not in message


def test_a_missing_file_falls_back_to_the_defaults(tmp_path, caplog):
    """A file that does not exist is logged by variable name and the defaults apply."""
    env = {"OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE": str(tmp_path / "absent.toml")}
    with caplog.at_level(logging.WARNING):
        assert RetentionPolicy.from_env(env).retention_days("update_treatment") == 2190
    assert "OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE" in caplog.text
