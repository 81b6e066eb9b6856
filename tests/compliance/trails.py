# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Crafted trails (record dicts as ``StoredRecord.record`` gives them) for the alert and report tests."""

from __future__ import annotations

import datetime
from typing import Any

START = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)  # a Monday, 09:00 UTC


def at(minutes: float) -> str:
    moment = START + datetime.timedelta(minutes=minutes)
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"


class Trail:
    """Records appended in order, with sequence numbers."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(
        self,
        minutes: float,
        user: str = "dr_house",
        subject: str | None = "hmac-sha256:kt:00000000000000000000000000000001",
        tool: str = "access_patient_record",
        **extra: Any,
    ) -> int:
        seq = len(self.records)
        record: dict[str, Any] = {
            "seq": seq,
            "schema": 1,
            "event_id": f"{seq:032x}",
            "event_type": "tool.call",
            "recorded_at": at(minutes + 0.01),
            "start_time": at(minutes),
            "trace_id": f"{seq * 7919 + 1:032x}",
            "user_id": user,
            "user_roles": ["physician"],
            "tool_name": tool,
            "success": True,
            "purpose": "TREAT",
        }
        if subject is not None:
            record["subject"] = subject
        record.update(extra)
        self.records.append(record)
        return seq


def subject(n: int) -> str:
    return f"hmac-sha256:kt:{n:032x}"


def normal_trail(days: int = 20) -> Trail:
    """Three clinicians over ``days`` weekdays, 09:00-17:00, a few patients an hour each, an
    occasional failure: a trail on which no rule should fire."""
    trail = Trail()
    for day in range(days):
        for hour in range(8):
            for n, user in enumerate(("dr_house", "dr_cuddy", "nurse_jackie")):
                for visit in range(3):
                    minutes = day * 1440 + hour * 60 + n * 7 + visit * 17
                    patient = subject((day * 31 + hour * 5 + n * 3 + visit) % 40)
                    failed = (day + hour + visit) % 23 == 0
                    trail.add(minutes, user, patient, success=not failed)
    return trail
