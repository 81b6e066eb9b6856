# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Alert rules: each fires on a crafted trail and stays quiet on a normal one; thresholds from TOML."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit.alerts import (
    AlertEvaluator,
    AlertThresholds,
    WindowRule,
    evaluate,
)

from .trails import Trail, normal_trail, subject


def pseudonym(user: str) -> str:
    return f"pseudo:{user}"


def rules(
    trail: Trail, thresholds: AlertThresholds | None = None
) -> list[tuple[str, tuple[int, ...]]]:
    return [(a.rule, a.seqs) for a in evaluate(trail.records, thresholds, pseudonym=pseudonym)]


def test_a_normal_trail_raises_no_alert():
    """Three clinicians' ordinary working weeks raise no alert under the default thresholds."""
    trail = normal_trail()
    assert len(trail.records) > 1000
    assert rules(trail) == []


def test_same_subject_ten_times_in_an_hour():
    """One user accessing one subject 10 times within an hour raises one alert naming the 10
    records; 9 times, or 10 spread over two hours, raise none."""
    trail = normal_trail(days=3)
    start = 4 * 1440
    seqs = [trail.add(start + i * 6, "dr_house", subject(99)) for i in range(10)]
    trail.add(start + 61, "dr_house", subject(99))  # still in the burst: no second alert
    (alert,) = evaluate(trail.records, pseudonym=pseudonym)
    assert (alert.rule, alert.seqs, alert.count, alert.user, alert.subject) == (
        "repeated_subject_access",
        tuple(seqs),
        10,
        "pseudo:dr_house",
        subject(99),
    )
    quiet = normal_trail(days=3)
    for i in range(9):
        quiet.add(start + i * 6, "dr_house", subject(99))
    for i in range(10):
        quiet.add(start + 1440 + i * 13, "dr_house", subject(98))
    assert rules(quiet) == []


def test_one_user_many_subjects():
    """One user touching 50 distinct subjects within an hour raises an alert; 49 do not."""
    trail = Trail()
    seqs = [trail.add(i, "nurse_jackie", subject(1000 + i)) for i in range(50)]
    assert rules(trail) == [("many_subjects", tuple(seqs))]
    quiet = Trail()
    for i in range(49):
        quiet.add(i, "nurse_jackie", subject(1000 + i))
    assert rules(quiet) == []


def test_access_outside_the_users_usual_hours():
    """After a history of day-time work, an access at 03:00 UTC is unusual; one at 10:00 is not,
    nor is a night access by a user with too little history."""
    trail = normal_trail(days=5)
    late = trail.add(5 * 1440 + 18 * 60, "dr_cuddy")  # 03:00 the next day
    trail.add(5 * 1440 + 60, "dr_cuddy")  # 10:00
    (alert,) = evaluate(trail.records, pseudonym=pseudonym)
    assert (alert.rule, alert.seqs, alert.user) == ("unusual_hours", (late,), "pseudo:dr_cuddy")
    assert alert.detail.startswith("access at 03:00-03:59 UTC; 0 of the user's 120 earlier")
    newcomer = Trail()
    for i in range(10):
        newcomer.add(i * 60, "locum")
    newcomer.add(18 * 60, "locum")
    assert rules(newcomer) == []


def test_failure_spike_per_tool():
    """10 failures of one tool within 5 minutes raise an alert naming the tool; 10 failures spread
    over an hour, or across tools, do not."""
    trail = Trail()
    seqs = [trail.add(i * 0.4, f"user_{i}", subject(i), tool="lab_lookup", success=False) for i in range(10)]  # fmt: skip
    (alert,) = evaluate(trail.records)
    assert (alert.rule, alert.seqs, alert.tool, alert.user) == (
        "failure_spike",
        tuple(seqs),
        "lab_lookup",
        None,
    )
    quiet = Trail()
    for i in range(10):
        quiet.add(i * 6, f"user_{i}", subject(i), tool="lab_lookup", success=False)
        quiet.add(i * 0.4, f"user_{i}", subject(i), tool=f"tool_{i}", success=False)
    assert rules(quiet) == []


def test_every_break_glass_use():
    """Every break-the-glass use raises an immediate alert: a call with details.break_glass or
    purpose ETREAT, and a declared break_glass event; an intent record does not."""
    trail = normal_trail(days=1)
    a = trail.add(30, details={"break_glass": {"reason": "code blue"}}, purpose="ETREAT")
    b = trail.add(31, purpose="ETREAT")
    c = trail.add(32, event_type="break_glass", details={"action": "open", "reason": "stroke"})
    trail.add(33, event_type="tool.intent", purpose="ETREAT")
    assert rules(trail) == [("break_glass", (a,)), ("break_glass", (b,)), ("break_glass", (c,))]


def test_rules_can_be_turned_off_and_tuned():
    """A rule with enabled = false stays quiet; a lower threshold fires sooner."""
    trail = Trail()
    for i in range(3):
        trail.add(i, "dr_house", subject(7))
    trail.add(4, purpose="ETREAT")
    assert rules(trail, AlertThresholds.from_mapping({"break_glass": {"enabled": False}})) == []
    tuned = AlertThresholds.from_mapping(
        {"repeated_subject_access": {"threshold": 3, "window_minutes": 10}}
    )
    assert tuned.repeated_subject_access == WindowRule(3, 10.0)
    assert [r for r, _ in rules(trail, tuned)] == ["repeated_subject_access", "break_glass"]


def test_batches_give_the_same_alerts_as_the_whole_trail():
    """Fed batch by batch (as records are committed), the rules raise what one pass raises."""
    trail = normal_trail(days=5)
    for i in range(12):
        trail.add(5 * 1440 + i, "dr_house", subject(77))
    trail.add(5 * 1440 + 18 * 60, "dr_cuddy", purpose="ETREAT")
    whole = evaluate(trail.records, pseudonym=pseudonym)
    evaluator = AlertEvaluator(pseudonym=pseudonym)
    batched = []
    for start in range(0, len(trail.records), 37):
        batched.extend(evaluator.feed(trail.records[start : start + 37]))
    assert [a.rule for a in whole] == ["repeated_subject_access", "break_glass", "unusual_hours"]
    assert batched == whole


def test_thresholds_from_the_retention_file(tmp_path, monkeypatch):
    """The [alerts] table of OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE sets the thresholds; the
    retention tables beside it are not the alerts' business."""
    path = tmp_path / "retention.toml"
    path.write_text(
        '[retention.general]\nretention_days = 365\ntools = "*"\n'
        "[alerts.failure_spike]\nthreshold = 3\nwindow_minutes = 1\n"
        "[alerts.unusual_hours]\nenabled = false\n"
    )
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE", str(path))
    thresholds = AlertThresholds.from_env()
    assert (thresholds.failure_spike, thresholds.unusual_hours.enabled) == (
        WindowRule(3, 1.0),
        False,
    )
    assert thresholds.repeated_subject_access == WindowRule(10, 60.0)


@pytest.mark.parametrize(
    "table,message",
    [
        ({"failure_spike": {"threshold": 0}}, "failure_spike.threshold must be a positive number"),
        ({"failure_spike": {"threshold": 2.5}}, "must be a whole number"),
        ({"many_subjects": {"enabled": "yes"}}, "many_subjects.enabled must be true or false"),
        ({"off_hours": {}}, "unknown alert rule off_hours"),
    ],
)
def test_bad_thresholds_are_refused_by_name(table, message):
    """A wrong value in [alerts] is a ValueError naming the rule and key."""
    with pytest.raises(ValueError, match=message):
        AlertThresholds.from_mapping(table)


def test_state_is_bounded_for_a_long_running_writer():
    """Windows of users and subjects not seen within their window are forgotten, so a writer that
    runs for months keeps only what is active."""
    trail = Trail()
    for i in range(3 * AlertEvaluator.SWEEP_EVERY):
        trail.add(i * 3, f"user_{i % 40}", subject(i))  # a new subject every 3 minutes
    evaluator = AlertEvaluator()
    assert evaluator.feed(trail.records) == []
    assert len(evaluator._pairs) <= 60 / 3 + AlertEvaluator.SWEEP_EVERY
    assert len(evaluator._pairs) < len(trail.records) / 2
