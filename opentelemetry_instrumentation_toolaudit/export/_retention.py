# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The retention policy: how long the record of each tool's calls must be kept.

A TOML file (``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE``) names categories of tools and their period:

.. code-block:: toml

    [retention.financial]
    retention_days = 2555
    tools = ["charge_payment", "issue_refund", "apply_credit"]

    [retention.general]
    retention_days = 365
    tools = "*"

Without a file the defaults below apply; a file's categories replace them. A tool may fall in several
categories: the longest period wins. A tool in none is kept for :data:`FALLBACK_DAYS`. A file that
cannot be read or is not laid out as above is logged once, by variable name, and the defaults used.
Every record gets ``retain_until``: its ``recorded_at`` date (UTC) plus the period.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from opentelemetry_instrumentation_toolaudit._env import invalid, read_path
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE,
)

FALLBACK_DAYS = 365
ALL_TOOLS = "*"
_EPOCH = datetime.date(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class RetentionCategory:
    """A named category: its period in days and its tools (None: every tool)."""

    name: str
    retention_days: int
    tools: frozenset[str] | None

    def applies_to(self, tool: str | None) -> bool:
        """Whether calls of ``tool`` fall in this category."""
        return self.tools is None or (tool is not None and tool in self.tools)


DEFAULT_CATEGORIES = (
    RetentionCategory(
        "financial", 2555, frozenset({"charge_payment", "issue_refund", "apply_credit"})
    ),
    RetentionCategory("healthcare", 2190, frozenset({"access_patient_record", "update_treatment"})),
    RetentionCategory("general", 365, None),
)


class RetentionPolicyError(ValueError):
    """A retention file that is not laid out as documented."""


class RetentionPolicy:
    """Retention categories, and the ``retain_until`` date they give a tool's record."""

    def __init__(self, categories: Iterable[RetentionCategory] = DEFAULT_CATEGORIES) -> None:
        self.categories: tuple[RetentionCategory, ...] = tuple(categories)
        self._days: dict[str | None, int] = {}
        self._until: dict[tuple[str | None, int], str] = {}
        self._lock = threading.Lock()

    # --- building ---------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """The policy of a parsed TOML document; :class:`RetentionPolicyError` says what is wrong."""
        section = data.get("retention")
        if not isinstance(section, dict) or not section:
            raise RetentionPolicyError("no [retention.<category>] table")
        categories = []
        for name, table in section.items():
            if not isinstance(table, dict):
                raise RetentionPolicyError(f"retention.{name} is not a table")
            days = table.get("retention_days")
            if type(days) is not int or days < 0:
                raise RetentionPolicyError(f"retention.{name}.retention_days is not a whole number")
            tools = table.get("tools")
            if tools == ALL_TOOLS:
                names = None
            elif isinstance(tools, list) and all(isinstance(t, str) for t in tools):
                names = frozenset(tools)
            else:
                raise RetentionPolicyError(
                    f'retention.{name}.tools is neither a list of tool names nor "*"'
                )
            categories.append(RetentionCategory(name, days, names))
        return cls(categories)

    @classmethod
    def from_file(cls, path: str | Path) -> RetentionPolicy:
        """The policy in the TOML file at ``path``; raises ``OSError`` or
        :class:`RetentionPolicyError` (``tomllib.TOMLDecodeError`` is one)."""
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except tomllib.TOMLDecodeError as exc:
            raise RetentionPolicyError(f"not TOML: {exc}") from None
        return cls.from_mapping(data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetentionPolicy:
        """The policy of ``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE``, or the defaults when it is unset
        or unusable (logged once)."""
        path = read_path(OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE, environ=environ)
        if path is None:
            return cls()
        try:
            return cls.from_file(path)
        except (OSError, RetentionPolicyError):
            invalid(
                OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE,
                "a readable TOML file of [retention.<category>] tables",
                "retention categories",
            )
            return cls()

    @classmethod
    def configured(cls) -> RetentionPolicy:
        """The policy of the environment, read once per process."""
        global _configured
        policy = _configured
        if policy is None:
            policy = _configured = cls.from_env()
        return policy

    # --- asking -----------------------------------------------------------------------------------
    def categories_for(self, tool: str | None) -> list[str]:
        """The names of the categories calls of ``tool`` fall in, in file order."""
        return [c.name for c in self.categories if c.applies_to(tool)]

    def retention_days(self, tool: str | None) -> int:
        """The longest period of the categories ``tool`` falls in (:data:`FALLBACK_DAYS` if none)."""
        days = self._days.get(tool)
        if days is None:
            days = max(
                (c.retention_days for c in self.categories if c.applies_to(tool)),
                default=FALLBACK_DAYS,
            )
            with self._lock:
                if len(self._days) >= 4096:
                    self._days.clear()
                self._days[tool] = days
        return days

    def retain_until(
        self, tool_name: str | None, recorded_at: datetime.datetime | datetime.date | str
    ) -> datetime.date:
        """The date until which a record of ``tool_name`` made at ``recorded_at`` must be kept.

        ``recorded_at`` is a datetime (naive means UTC), a date, or an RFC 3339 string."""
        if isinstance(recorded_at, str):
            recorded_at = datetime.datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
        if isinstance(recorded_at, datetime.datetime):
            if recorded_at.tzinfo is not None:
                recorded_at = recorded_at.astimezone(datetime.timezone.utc)
            recorded_at = recorded_at.date()
        return recorded_at + datetime.timedelta(days=self.retention_days(tool_name))

    def retain_until_text(self, tool_name: str | None, unix_seconds: int) -> str:
        """:meth:`retain_until` as ``YYYY-MM-DD`` for a record made at ``unix_seconds``."""
        day = unix_seconds // 86_400
        key = (tool_name, day)
        text = self._until.get(key)
        if text is None:
            date = _EPOCH + datetime.timedelta(days=day + self.retention_days(tool_name))
            text = date.isoformat()
            with self._lock:
                if len(self._until) >= 4096:
                    self._until.clear()
                self._until[key] = text
        return text


_configured: RetentionPolicy | None = None
