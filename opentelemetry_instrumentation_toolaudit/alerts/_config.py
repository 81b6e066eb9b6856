# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Alert thresholds: the ``[alerts]`` table of the retention file, with documented defaults.

.. code-block:: toml

    [alerts.repeated_subject_access]   # one user, one subject, many accesses
    threshold = 10
    window_minutes = 60
    [alerts.many_subjects]             # one user, many distinct subjects
    threshold = 50
    window_minutes = 60
    [alerts.unusual_hours]             # an access at an hour the user is rarely active
    min_history = 50
    min_share = 0.02
    [alerts.failure_spike]             # one tool failing many times
    threshold = 10
    window_minutes = 5
    [alerts.break_glass]               # every emergency access
    enabled = true

Every rule takes ``enabled = false`` to turn it off.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE,
)

REPEATED_SUBJECT_ACCESS = "repeated_subject_access"
MANY_SUBJECTS = "many_subjects"
UNUSUAL_HOURS = "unusual_hours"
FAILURE_SPIKE = "failure_spike"
BREAK_GLASS = "break_glass"
RULES = (REPEATED_SUBJECT_ACCESS, MANY_SUBJECTS, UNUSUAL_HOURS, FAILURE_SPIKE, BREAK_GLASS)


@dataclasses.dataclass(frozen=True)
class WindowRule:
    """At least ``threshold`` events within ``window_minutes``."""

    threshold: int
    window_minutes: float
    enabled: bool = True


@dataclasses.dataclass(frozen=True)
class HoursRule:
    """An access is unusual when the user has ``min_history`` earlier accesses and fewer than
    ``min_share`` of them fall within an hour of this one's time of day (UTC)."""

    min_history: int = 50
    min_share: float = 0.02
    enabled: bool = True


@dataclasses.dataclass(frozen=True)
class AlertThresholds:
    """The thresholds of every alert rule (the defaults apply without a file)."""

    repeated_subject_access: WindowRule = WindowRule(10, 60)
    many_subjects: WindowRule = WindowRule(50, 60)
    unusual_hours: HoursRule = HoursRule()
    failure_spike: WindowRule = WindowRule(10, 5)
    break_glass: bool = True

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], where: str = "[alerts]") -> AlertThresholds:
        """Thresholds from a parsed ``[alerts]`` table; ValueError naming the key for a bad value."""
        unknown = set(table) - set(RULES)
        if unknown:
            raise ValueError(f"{where}: unknown alert rule {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name in (REPEATED_SUBJECT_ACCESS, MANY_SUBJECTS, FAILURE_SPIKE):
            default: WindowRule = getattr(cls, name)
            values[name] = WindowRule(
                _number(table, name, "threshold", default.threshold, int, where),
                _number(table, name, "window_minutes", default.window_minutes, float, where),
                _flag(table, name, where),
            )
        hours = HoursRule()
        values[UNUSUAL_HOURS] = HoursRule(
            _number(table, UNUSUAL_HOURS, "min_history", hours.min_history, int, where),
            _number(table, UNUSUAL_HOURS, "min_share", hours.min_share, float, where),
            _flag(table, UNUSUAL_HOURS, where),
        )
        values[BREAK_GLASS] = _flag(table, BREAK_GLASS, where)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AlertThresholds:
        """The ``[alerts]`` table of a TOML file (defaults where it says nothing). OSError when the
        file cannot be read, ValueError when it is not valid TOML or a value is wrong."""
        with open(path, "rb") as handle:
            try:
                document = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{os.fspath(path)}: not valid TOML ({exc})") from None
        table = document.get("alerts", {})
        if not isinstance(table, dict):
            raise ValueError(f"{os.fspath(path)}: [alerts] must be a table")
        return cls.from_mapping(table, f"{os.fspath(path)}: [alerts]")

    @classmethod
    def from_env(cls) -> AlertThresholds:
        """From the file ``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE`` names, else the defaults."""
        path = os.environ.get(OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE, "").strip()
        return cls.from_file(path) if path else cls()


def _rule_table(table: Mapping[str, Any], rule: str, where: str) -> Mapping[str, Any]:
    value = table.get(rule, {})
    if not isinstance(value, dict):
        raise ValueError(f"{where}.{rule} must be a table")
    return value


def _number(
    table: Mapping[str, Any], rule: str, key: str, default: float, kind: type, where: str
) -> Any:
    value = _rule_table(table, rule, where).get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{where}.{rule}.{key} must be a positive number")
    if kind is int and value != int(value):
        raise ValueError(f"{where}.{rule}.{key} must be a whole number")
    return kind(value)


def _flag(table: Mapping[str, Any], rule: str, where: str) -> bool:
    value = _rule_table(table, rule, where).get("enabled", True)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{rule}.enabled must be true or false")
    return value
