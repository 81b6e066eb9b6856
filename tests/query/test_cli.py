# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The reading commands as a user runs them, on SQLite, JSONL and PostgreSQL trails."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

from ..audit._tamper import read_rows, write_rows
from .conftest import PATIENT, N, bare, medical_body, pseudonym, write_trail

TOOLAUDIT = str(Path(sys.executable).with_name("toolaudit"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def expected(predicate: Any, n: int = N) -> list[int]:
    """The seqs of the medical trail's records a predicate on the body accepts."""
    return [i for i in range(n) if predicate(medical_body(i))]


def test_search_filters_on_every_sink(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each filter flag selects exactly the records whose fields match, on a sink URL or a bare path."""
    url, _ = trail
    cases: list[tuple[list[str], Any]] = [
        (
            ["--tool", "update_treatment", "--failed"],
            lambda b: b["tool_name"] == "update_treatment" and not b["success"],
        ),
        (["--role", "nurse"], lambda b: b["user_roles"] == ["nurse"]),
        (
            ["--user", "clerk_ruiz", "--success"],
            lambda b: b["user_id"] == "clerk_ruiz" and b["success"],
        ),
        (["--conversation", "conv_2"], lambda b: b["conversation_id"] == "conv_2"),
        (
            ["--subject", PATIENT, "--purpose", "payment"],
            lambda b: b["subject"] == pseudonym(PATIENT) and b["purpose"] == "payment",
        ),
        (
            ["--since", "2026-03-01", "--until", "2026-06-01T00:00:00Z"],
            lambda b: "2026-03" <= b["recorded_at"] < "2026-06",
        ),
        (
            ["--trace-id", medical_body(7)["trace_id"].upper()],
            lambda b: b["trace_id"] == medical_body(7)["trace_id"],
        ),
        (["--event-type", "tool.intent"], lambda b: False),
    ]
    for flags, predicate in cases:
        code, out, err = run(capsys, "search", bare(url), *flags, "--format", "jsonl")
        found = [json.loads(line) for line in out.splitlines()]
        assert (code, [r["seq"] for r in found], err) == (
            0,
            expected(predicate),
            f"{len(expected(predicate))} record(s)\n",
        ), flags
    first = found_first = json.loads(
        run(capsys, "search", url, "--limit", "1", "--format", "json")[1]
    )[0]
    assert (found_first["seq"], found_first["trace_id"], found_first["span_id"]) == (
        0,
        medical_body(0)["trace_id"],
        medical_body(0)["span_id"],
    )
    with open_sink(url, create=False) as sink:
        assert first["entry_hash"] == next(sink.read(0, 1)).entry_hash


def test_search_pages_with_a_cursor_and_orders_newest_first(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--limit and --after page through the results; --desc lists newest first."""
    url, _ = trail
    pages: list[int] = []
    after: list[str] = []
    while True:
        _, out, _ = run(
            capsys,
            "search",
            url,
            "--role",
            "physician",
            "--limit",
            "5",
            *after,
            "--format",
            "jsonl",
        )
        seqs = [json.loads(line)["seq"] for line in out.splitlines()]
        if not seqs:
            break
        pages += seqs
        after = ["--after", str(seqs[-1])]
    assert pages == expected(lambda b: b["user_roles"] == ["physician"])
    _, out, _ = run(capsys, "search", url, "--desc", "--limit", "3", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [N - 1, N - 2, N - 3]


def test_search_table_and_csv(trail: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The table has one line per record under a header; CSV has the header and one row per record."""
    url, _ = trail
    code, out, _ = run(capsys, "search", url, "--tool", "search_patients")
    lines = out.splitlines()
    assert (code, lines[0].split()[:3], len(lines)) == (0, ["SEQ", "RECORDED", "(UTC)"], 1 + N // 3)
    _, out, _ = run(capsys, "search", url, "--failed", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["seq"]) for r in rows] == expected(lambda b: not b["success"])
    assert {r["error_type"] for r in rows} == {"PermissionError"}


def test_search_table_marks_erased_payloads(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A table line ends with "(payload erased)" for a record whose payload was erased, and only
    for such a record."""
    url, _ = trail
    with open_sink(url, create=False) as sink:
        assert sink.erase_payloads([2]) == 1
    code, out, _ = run(capsys, "search", url, "--limit", "4")
    lines = out.splitlines()[1:]
    assert (code, [line.split()[0] for line in lines]) == (0, ["0", "1", "2", "3"])
    assert [line.endswith("  (payload erased)") for line in lines] == [False, False, True, False]


def test_show_by_seq_event_id_entry_hash_and_trace(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """show finds one record by each key and says under which signed checkpoint it is included."""
    url, pub = trail
    with open_sink(url, create=False) as sink:
        entry_hash = next(sink.read(9, 10)).entry_hash
    body = medical_body(9)
    for key in (["9"], ["--event-id", body["event_id"]], ["--entry-hash", entry_hash]):
        code, out, err = run(capsys, "show", url, *key, "--public-key", pub)
        shown = json.loads(out)
        assert (code, shown["seq"], shown["entry_hash"], shown["record"]["event_id"]) == (
            0,
            9,
            entry_hash,
            body["event_id"],
        )
        assert shown["proof"]["included"] and shown["proof"]["checkpoint"]["size"] == 16
        assert err.startswith("OK: record #9 is included in the signed checkpoint of 16 records")
    code, out, _ = run(capsys, "show", url, "--trace-id", body["trace_id"], "--public-key", pub)
    assert (code, [r["seq"] for r in json.loads(out)]) == (0, [9])


def test_show_reports_what_is_missing(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A record not found exits 1; a sequence number out of range is a usage error (2)."""
    url, pub = trail
    code, out, err = run(capsys, "show", url, "--event-id", "f" * 32, "--public-key", pub)
    assert (code, out, err) == (1, "", f"FAIL: no record with event id {'f' * 32}\n")
    code, _, err = run(capsys, "show", url, "999", "--public-key", pub)
    assert (code, err) == (
        2,
        f"toolaudit show: error: record #999 is out of range: the trail holds {N} records (#0..#{N - 1})\n",
    )


def test_timeline_one_line_per_call(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each call of the conversation is one line: turn, mark, tool, arguments, result, time, trace."""
    url, _ = trail
    code, out, err = run(capsys, "timeline", url, "conv_1")
    lines = out.splitlines()
    calls = expected(lambda b: b["conversation_id"] == "conv_1")
    third = medical_body(calls[2])
    assert code == 0
    assert len(lines) == len(calls)
    assert lines[2] == (
        f'[Turn 3] ✗ access_patient_record({{"patient_id": "{pseudonym("P-5678")}"}}) → '
        f'{{"error": "access denied"}} [{third["duration_ms"]:.0f} ms]  trace {third["trace_id"]}'
    )
    assert err == f"{len(calls)} tool call(s), 2 failed\n"
    code, out, _ = run(capsys, "timeline", url, "conv_1", "--format", "json")
    assert (code, [r["seq"] for r in json.loads(out)]) == (0, calls)


def test_timeline_says_when_a_payload_was_erased(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A call whose payload was erased shows "(payload erased)" where its arguments were, not an
    empty argument list."""
    url, _ = trail
    calls = expected(lambda b: b["conversation_id"] == "conv_1")
    with open_sink(url, create=False) as sink:
        assert sink.erase_payloads([calls[2]]) == 1
    code, out, _ = run(capsys, "timeline", url, "conv_1")
    lines = out.splitlines()
    assert code == 0
    assert lines[2].startswith('[Turn 3] ✗ access_patient_record((payload erased)) → {"error_type"')
    assert "(payload erased)" not in lines[1]


def test_stats_by_tool(trail: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """stats counts calls, failures, users and duration percentiles per tool."""
    url, _ = trail
    code, out, _ = run(capsys, "stats", url, "--by", "tool", "--format", "json")
    stats = json.loads(out)
    group = stats["groups"]["update_treatment"]
    bodies = [medical_body(i) for i in expected(lambda b: b["tool_name"] == "update_treatment")]
    durations = sorted(b["duration_ms"] for b in bodies)
    assert (
        code,
        stats["calls"],
        group["calls"],
        group["failed"],
        group["max_ms"],
        group["p50_ms"],
    ) == (
        0,
        N,
        len(bodies),
        sum(1 for b in bodies if not b["success"]),
        durations[-1],
        durations[len(durations) // 2 - 1],
    )
    code, out, _ = run(capsys, "stats", url, "--since", "2026-08-01")
    assert out.splitlines()[-1].split()[:3] == [
        "(all",
        "calls)",
        str(len(expected(lambda b: b["recorded_at"] >= "2026-08"))),
    ]


def _report(
    capsys: pytest.CaptureFixture[str], url: str, pub: str, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(
        capsys,
        "report",
        "access",
        url,
        "--subject",
        PATIENT,
        "--from",
        "2026-01-01",
        "--to",
        "2026-06-30",
        "--public-key",
        pub,
        "--format",
        "json",
        *extra,
    )
    return code, json.loads(out), err


def test_access_report_json(trail: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The report lists each access to the subject in the period and verifies the trail against a
    signed checkpoint covering its last record."""
    url, pub = trail
    code, report, err = _report(capsys, url, pub)
    seqs = expected(lambda b: b["subject"] == pseudonym(PATIENT) and b["recorded_at"] < "2026-07")
    assert code == 0
    assert (
        report["subject"],
        report["report_period"],
        report["total_accesses"],
        report["unique_users"],
    ) == (
        pseudonym(PATIENT),
        {"from": "2026-01-01", "to": "2026-06-30"},
        len(seqs),
        3,
    )
    assert [a["seq"] for a in report["accesses"]] == seqs
    assert report["accesses"][0] == {
        "timestamp": "2026-01-01T09:00:00.000000Z",
        "accessed_by": "dr_chen",
        "role": "physician",
        "tool": "access_patient_record",
        "action": "read",
        "purpose": "treatment",
        "success": True,
        "seq": 0,
        "trace_id": medical_body(0)["trace_id"],
    }
    assert report["integrity_verified"] is True
    assert (report["integrity"]["method"], report["integrity"]["checkpoint"]["size"]) == (
        "full",
        36,
    )
    assert err.startswith(f"OK: {len(seqs)} access(es) by 3 user(s); integrity verified (full)")
    assert PATIENT not in json.dumps(report) + err


def test_access_report_takes_since_and_until(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """report access takes --since/--until, the filters' names in every other reading command, as
    --from/--to."""
    url, pub = trail
    argv = ["report", "access", url, "--subject", PATIENT, "--public-key", pub, "--format", "json"]
    code, out, _ = run(capsys, *argv, "--since", "2026-01-01", "--until", "2026-06-30")
    _, expected_report, _ = _report(capsys, url, pub)
    assert (code, json.loads(out)) == (0, expected_report)


@pytest.mark.parametrize("method", ["full", "proofs"])
def test_access_report_on_a_tampered_trail(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str], method: str
) -> None:
    """A record edited after it was written makes integrity_verified false, says which and why,
    and exits 1."""
    url, pub = trail
    rows = read_rows(url)
    rows[6]["canonical"] = rows[6]["canonical"].replace(b"dr_chen", b"dr_chan")
    write_rows(url, rows)
    code, report, err = _report(capsys, url, pub, "--integrity", method)
    assert (code, report["integrity_verified"]) == (1, False)
    assert report["integrity"]["reason"].startswith("record #6: ")
    assert (
        "do not match" in report["integrity"]["reason"]
        or "does not" in report["integrity"]["reason"]
    )
    assert err.startswith("FAIL: integrity not verified: record #6: ")


def test_access_report_without_a_key_is_not_verified(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no verifier key to check signatures with, the report says it is not verified."""
    url, _ = trail
    code, out, _ = run(capsys, "report", "access", url, "--subject", PATIENT, "--format", "json")
    report = json.loads(out)
    assert (code, report["integrity_verified"], report["total_accesses"]) == (1, False, N // 2)
    assert "no verifier key" in report["integrity"]["reason"]


def test_access_report_table_and_html(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table and the print-ready HTML page carry the same accesses; trace ids become links."""
    url, pub = trail
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TRACE_URL", "http://localhost:16686/trace/{trace_id}")
    argv = [
        "report",
        "access",
        url,
        "--subject",
        PATIENT,
        "--from",
        "2026-01-01",
        "--to",
        "2026-06-30",
        "--public-key",
        pub,
    ]
    code, out, _ = run(capsys, *argv)
    assert (code, out.splitlines()[3]) == (0, "Integrity verified: yes")
    assert f"http://localhost:16686/trace/{medical_body(0)['trace_id']}" in out
    code, page, _ = run(capsys, *argv, "--format", "html")
    assert code == 0
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page
    assert f'<a href="http://localhost:16686/trace/{medical_body(0)["trace_id"]}">' in page
    assert page.count("<tr><td>") == len(
        expected(lambda b: b["subject"] == pseudonym(PATIENT) and b["recorded_at"] < "2026-07")
    )


def test_fhir_export_validates(trail: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """The FHIR Bundle and NDJSON exports are valid R4B AuditEvents after IHE BALP."""
    from fhir.resources.R4B.auditevent import AuditEvent
    from fhir.resources.R4B.bundle import Bundle

    url, _ = trail
    code, out, err = run(capsys, "export", url, "--format", "fhir", "--subject", PATIENT)
    bundle = Bundle.model_validate(json.loads(out))
    events = [entry.resource for entry in bundle.entry or []]
    assert (code, len(events), err) == (0, N // 2, f"exported {N // 2} record(s) as fhir\n")
    first, failed = events[0], events[2]
    assert (
        first.action,
        first.outcome,
        first.type.code,
        first.purposeOfEvent[0].coding[0].code,
    ) == ("R", "0", "rest", "TREAT")
    assert (failed.action, failed.outcome, failed.outcomeDesc) == ("U", "4", "PermissionError")
    user, model = first.agent
    assert (user.requestor, user.who.identifier.value, user.role[0].text) == (
        True,
        "dr_chen",
        "physician",
    )
    assert (model.requestor, model.who.display) == (False, "claude-sonnet-4")
    assert first.entity[0].what.identifier.value == pseudonym(PATIENT)
    assert first.source.observer.display == "records-assistant"
    code, out, _ = run(
        capsys, "export", url, "--format", "fhir", "--fhir-form", "ndjson", "--purpose", "payment"
    )
    lines = out.splitlines()
    assert len(lines) == len(expected(lambda b: b["purpose"] == "payment"))
    assert {
        AuditEvent.model_validate_json(line).purposeOfEvent[0].coding[0].code for line in lines
    } == {"HPAYMT"}


def test_export_jsonl_and_csv(trail: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """JSON Lines export is each stored record with its entry hash; CSV one row per record."""
    url, _ = trail
    _, out, _ = run(capsys, "export", url, "--format", "jsonl", "--user", "dr_chen")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in records] == expected(lambda b: b["user_id"] == "dr_chen")
    assert all(len(r["entry_hash"]) == 64 and r["prev_hash"] for r in records)
    _, out, _ = run(capsys, "export", url, "--format", "csv", "--user", "dr_chen")
    assert len(list(csv.DictReader(io.StringIO(out)))) == len(records)


def test_trace_links_in_search_and_timeline(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_PYTHON_TOOLAUDIT_TRACE_URL turns the trace id of every output into a link."""
    url, _ = trail
    monkeypatch.setenv(
        "OTEL_PYTHON_TOOLAUDIT_TRACE_URL", "https://grafana.example/explore?traceId={trace_id}"
    )
    link = f"https://grafana.example/explore?traceId={medical_body(0)['trace_id']}"
    assert run(capsys, "search", url, "--limit", "1")[1].splitlines()[1].endswith(link)
    assert (
        json.loads(run(capsys, "search", url, "--limit", "1", "--format", "json")[1])[0][
            "trace_url"
        ]
        == link
    )
    assert run(capsys, "timeline", url, "conv_0")[1].splitlines()[0].endswith(f"trace {link}")
    assert (
        run(capsys, "search", url, "--limit", "1", "--format", "csv")[1]
        .splitlines()[1]
        .endswith(link)
    )


def test_empty_trail(tmp_path: Path, capsys: pytest.CaptureFixture[str], sink_url: str) -> None:
    """On an empty trail every command answers with nothing found; the report is not verified."""
    AuditLog(open_sink(sink_url), signer=NoteSigner.generate("test.example/audit")).close()
    assert run(capsys, "search", sink_url) == (0, "", "0 record(s)\n")
    assert run(capsys, "timeline", sink_url, "conv_0") == (0, "", "0 tool call(s), 0 failed\n")
    assert json.loads(run(capsys, "stats", sink_url, "--format", "json")[1])["calls"] == 0
    assert json.loads(run(capsys, "export", sink_url, "--format", "fhir")[1])["entry"] == []
    code, out, _ = run(
        capsys, "report", "access", sink_url, "--subject", PATIENT, "--format", "json"
    )
    assert (code, json.loads(out)["integrity_verified"], json.loads(out)["total_accesses"]) == (
        1,
        False,
        0,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["search"],
        ["show", "0"],
        ["timeline", "conv_0"],
        ["stats"],
        ["report", "access", "--subject", PATIENT],
        ["export", "--format", "fhir"],
        ["tail", "--timeout", "0"],
    ],
)
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}/missing.db", "{tmp}/missing.db: no such file"),
        ("{tmp}/missing.jsonl", "{tmp}/missing.jsonl: no such file"),
        (
            "postgresql://auditor:s3cret@127.0.0.1:1/audit",
            "postgresql://auditor:***@127.0.0.1:1/audit: cannot connect",
        ),
    ],
)
def test_unreadable_sink_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    target: str,
    message: str,
) -> None:
    """A missing file or a PostgreSQL that is down: exit 2, one line, the password masked."""
    where = target.format(tmp=tmp_path)
    argv = [command[0], *(command[1:2] if command[0] == "report" else []), where]
    argv += command[2:] if command[0] == "report" else command[1:]
    code, out, err = run(capsys, *argv)
    name = " ".join(command[:2]) if command[0] == "report" else command[0]
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"toolaudit {name.split()[0]}: error: {message.format(tmp=tmp_path)}")
    assert "s3cret" not in err


def test_subject_value_needs_the_hash_key(
    trail: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Without a hash key a subject value is refused (exit 2, never echoed); its pseudonym works."""
    url, _ = trail
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(tmp_path / "absent.key"))
    code, out, err = run(capsys, "search", url, "--subject", PATIENT)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert PATIENT not in err and "hmac-sha256:" in err
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "tests-only-hash-key-0123456789abcdef")
    subject = pseudonym(PATIENT)
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY")
    code, _, err = run(capsys, "search", url, "--subject", subject)
    assert (code, err) == (0, f"{N // 2} record(s)\n")
    assert not (tmp_path / "absent.key").exists()


def test_bad_time_is_a_usage_error(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A --since that is neither ISO 8601 nor a relative span exits 2 with one line."""
    url, _ = trail
    code, _, err = run(capsys, "search", url, "--since", "last tuesday")
    assert (code, err.count("\n")) == (2, 1)
    assert err.startswith("toolaudit search: error: --since: not a time: 'last tuesday'")


def _cli(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TOOLAUDIT, *argv], capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


def test_console_script_runs_every_reading_command(trail: tuple[str, str]) -> None:
    """The installed console script runs each reading command end to end in a subprocess."""
    url, pub = trail
    target = bare(url)
    for argv, first in (
        (["search", target, "--limit", "2"], "   SEQ"),
        (["show", target, "3", "--public-key", pub], "{"),
        (["timeline", target, "conv_1"], "[Turn 1]"),
        (["stats", target, "--by", "model"], "MODEL"),
        (
            ["report", "access", target, "--subject", PATIENT, "--public-key", pub],
            "Access report for hmac-sha256:",
        ),
        (
            ["export", target, "--format", "fhir", "--fhir-form", "ndjson"],
            '{"resourceType":"AuditEvent"',
        ),
    ):
        proc = _cli(*argv)
        assert (proc.returncode, proc.stdout[: len(first)]) == (0, first), (argv, proc.stderr)
        assert PATIENT not in proc.stdout + proc.stderr


def test_tail_follows_new_records(tmp_path: Path, key: tuple[NoteSigner, str]) -> None:
    """tail prints each new matching record once it is committed, and stops after --count."""
    url = f"sqlite:///{tmp_path}/audit.db"
    write_trail(url, key[0], n=4)
    proc = subprocess.Popen(
        [
            TOOLAUDIT,
            "tail",
            str(tmp_path / "audit.db"),
            "--tool",
            "update_treatment",
            "--format",
            "jsonl",
            "--interval",
            "0.05",
            "--count",
            "2",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline()
        log = AuditLog(open_sink(url), signer=key[0], checkpoint_interval=3600)
        for i in range(4, 12):
            log.append([medical_body(i)])
        log.close()
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert started.startswith("following sqlite:///") and started.endswith(" after record #3\n")
    assert (proc.returncode, [json.loads(line)["seq"] for line in out.splitlines()], err) == (
        0,
        [4, 7],
        "2 record(s)\n",
    )


def test_tail_from_start_on_jsonl(
    tmp_path: Path, key: tuple[NoteSigner, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """tail --from-start prints the records already there first (JSONL sink, text lines)."""
    url = f"jsonl:///{tmp_path}/audit.jsonl"
    write_trail(url, key[0], n=6)
    code, out, err = run(capsys, "tail", url, "--from-start", "--count", "6", "--interval", "0.01")
    lines = out.splitlines()
    assert (code, len(lines), err.splitlines()[1:]) == (0, 6, ["6 record(s)"])
    assert lines[0].startswith("#0 2026-01-01T09:00:00.000000Z [Turn 1] ✓ access_patient_record(")


def test_no_command_prints_a_raw_subject(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The subject's raw value, given on the command line, appears in no output."""
    url, pub = trail
    outputs = ""
    for argv in (
        ["search", url, "--subject", PATIENT, "--format", "json"],
        ["report", "access", url, "--subject", PATIENT, "--public-key", pub, "--format", "html"],
        ["export", url, "--subject", PATIENT, "--format", "csv"],
    ):
        outputs += "".join(run(capsys, *argv)[1:])
    assert PATIENT not in outputs
    assert os.environ.get("OTEL_PYTHON_TOOLAUDIT_HASH_KEY")


def test_html_report_escapes_every_value(
    tmp_path: Path, key: tuple[NoteSigner, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A user id or role holding markup is shown as text in the HTML report, never as markup."""
    url = f"sqlite:///{tmp_path}/audit.db"
    log = AuditLog(open_sink(url), signer=key[0])
    hostile = {**medical_body(0), "user_id": "<script>alert(1)</script>", "user_roles": ['"><b>x']}
    log.append([hostile])
    log.close()
    code, page, _ = run(
        capsys,
        "report",
        "access",
        url,
        "--subject",
        PATIENT,
        "--format",
        "html",
        "--public-key",
        key[1],
    )
    assert code == 0
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x" not in page


def test_progress_bar_only_on_a_terminal(trail: tuple[str, str]) -> None:
    """With stderr a terminal, export shows a progress bar there; stdout holds only the data."""
    import fcntl
    import pty
    import struct
    import termios

    url, _ = trail
    if not url.startswith("sqlite"):
        pytest.skip("one sink is enough")
    primary, secondary = pty.openpty()
    # A new pseudo-terminal is 0 columns wide: give it a terminal's size.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.run(
            [TOOLAUDIT, "export", url, "--format", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=secondary,
            timeout=120,
            check=False,
        )
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == N
    assert b" records" in shown and b"exported 36 record(s) as jsonl" in shown


def test_show_without_a_key_says_the_signature_was_not_checked(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a verifier key, show proves inclusion against the checkpoint's root and says that
    its signature was not checked."""
    url, _ = trail
    code, out, err = run(capsys, "show", url, "5")
    proof = json.loads(out)["proof"]
    assert (code, proof["included"], proof["signature_checked"], proof["tree_size"]) == (
        0,
        True,
        False,
        N,
    )
    assert err.startswith(
        f"OK (signature not checked): record #5 is included in the checkpoint of {N} records"
    )


def test_access_report_judges_the_trail_up_to_its_last_record(
    trail: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An edit after the report's last record leaves it verified; a truncated tail does not."""
    url, pub = trail
    rows = read_rows(url)
    last = _report(capsys, url, pub)[1]["accesses"][-1]["seq"]
    edited = [dict(row) for row in rows]
    edited[last + 1]["canonical"] = edited[last + 1]["canonical"].replace(b"nurse_", b"nurze_")
    write_rows(url, edited)
    code, report, _ = _report(capsys, url, pub)
    assert (code, report["integrity_verified"], report["integrity"]["last_seq"]) == (0, True, last)
    write_rows(url, rows[: last + 1])
    code, report, _ = _report(capsys, url, pub)
    assert (code, report["integrity_verified"]) == (1, False)
    assert "truncated tail" in report["integrity"]["reason"]


def test_terminal_output_shows_control_characters_as_text(
    tmp_path: Path, key: tuple[NoteSigner, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A stored value holding a terminal escape or a newline is printed as \\xNN in tables and
    timelines, one record per line."""
    url = f"sqlite:///{tmp_path}/audit.db"
    log = AuditLog(open_sink(url), signer=key[0])
    log.append([{**medical_body(0), "user_id": "eve\x1b[2J\nroot", "tool_name": "t\x07"}])
    log.close()
    for argv in (
        ["search", url],
        ["timeline", url, "conv_0"],
        ["report", "access", url, "--subject", PATIENT, "--public-key", key[1]],
    ):
        out = run(capsys, *argv)[1]
        assert "\x1b" not in out and "\x07" not in out, argv
    assert "eve\\x1b[2J\\x0aroot" in run(capsys, "search", url)[1].splitlines()[1]
    assert run(capsys, "timeline", url, "conv_0")[1].startswith("[Turn 1] ✓ t\\x07(")
