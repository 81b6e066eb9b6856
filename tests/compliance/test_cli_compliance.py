# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit alerts`, `toolaudit report break-glass` and `--log-access` on real sinks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger.stores import redact_url
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

from .trails import Trail, normal_trail, subject


def write(url: str, trail: Trail, signer: NoteSigner | None = None) -> None:
    """Store the trail's records as bodies (the sink seals them again, same order)."""
    bodies = [{k: v for k, v in r.items() if k not in ("seq", "schema")} for r in trail.records]
    with AuditLog(
        open_sink(url), signer=signer or NoteSigner.generate("test.example/audit")
    ) as log:
        log.append(bodies)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


def glass_trail() -> Trail:
    trail = normal_trail(days=1)
    trail.add(30, "clerk_1", details={"break_glass": {"reason": "code blue, bed <PHONE>"}}, purpose="ETREAT")  # fmt: skip
    trail.add(2000, "dr_cuddy", event_type="break_glass", details={"action": "open", "reason": "stroke"})  # fmt: skip
    return trail


def test_alerts_command_json_and_exit_code(sink_url, capsys):
    """`toolaudit alerts SINK --format json` prints every alert with pseudonymized users and exits 1;
    a quiet trail exits 0 with 'OK: no alert'."""
    trail = glass_trail()
    write(sink_url, trail)
    code, out, err = run(capsys, "alerts", sink_url, "--format", "json")
    alerts = json.loads(out)
    assert code == 1
    assert [(a["rule"], a["seqs"]) for a in alerts] == [
        ("break_glass", [len(trail.records) - 2]),
        ("break_glass", [len(trail.records) - 1]),
    ]
    assert alerts[0]["user"] == RedactionPolicy.from_env().pseudonym("clerk_1")
    assert "clerk_1" not in out + err
    assert err.strip() == "ALERT: 2 alerts (2 break_glass)"


def test_alerts_command_quiet_trail_and_since(tmp_path, capsys):
    """A quiet trail exits 0; --since leaves out alerts raised before it."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, glass_trail())
    code, out, err = run(capsys, "alerts", url, "--since", "2026-11-03T00:00:00Z")
    assert (code, err.strip()) == (1, "ALERT: 1 alerts (1 break_glass)")
    assert out.splitlines()[0].split() == ["RULE", "AT", "USER", "SUBJECT", "TOOL", "COUNT", "SEQS"]
    quiet = f"sqlite:///{tmp_path / 'quiet.db'}"
    write(quiet, normal_trail(days=2))
    assert run(capsys, "alerts", quiet)[0::2] == (0, "OK: no alert\n")


def test_alerts_command_bad_threshold_file(tmp_path, capsys, monkeypatch):
    """A wrong value in the [alerts] table is a usage error naming the key (exit 2)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, normal_trail(days=1))
    path = tmp_path / "retention.toml"
    path.write_text("[alerts.failure_spike]\nthreshold = -1\n")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE", str(path))
    code, out, err = run(capsys, "alerts", url)
    assert (code, out) == (2, "")
    assert "failure_spike.threshold must be a positive number" in err


def test_report_break_glass(sink_url, capsys):
    """`toolaudit report break-glass SINK` lists every use: who, when, tool, reason, purpose, trace."""
    trail = glass_trail()
    write(sink_url, trail)
    code, out, err = run(capsys, "report", "break-glass", sink_url, "--format", "json")
    first, second = trail.records[-2:]
    assert (code, err.strip()) == (0, "2 break-the-glass uses")
    assert json.loads(out) == [
        {
            "seq": first["seq"],
            "when": first["start_time"],
            "user_id": "clerk_1",
            "user_roles": ["physician"],
            "event_type": "tool.call",
            "tool_name": "access_patient_record",
            "success": True,
            "reason": "code blue, bed <PHONE>",
            "purpose": "ETREAT",
            "trace_id": first["trace_id"],
        },
        {
            "seq": second["seq"],
            "when": second["start_time"],
            "user_id": "dr_cuddy",
            "user_roles": ["physician"],
            "event_type": "break_glass",
            "tool_name": "access_patient_record",
            "success": True,
            "reason": "stroke",
            "purpose": "TREAT",
            "trace_id": second["trace_id"],
        },
    ]
    code, out, _ = run(capsys, "report", "break-glass", sink_url)
    header, *rows = out.splitlines()
    assert header.split() == ["SEQ", "WHEN", "USER", "TOOL", "REASON", "PURPOSE", "TRACE"]
    assert [row.split()[2] for row in rows] == ["clerk_1", "dr_cuddy"]


def test_log_access_records_an_audit_read_event(sink_url, capsys, monkeypatch):
    """`verify --log-access` appends an audit.read event (OS user, command, sink with its password
    masked); the trail still verifies; the environment variable turns it on for every reading
    command, with its filters redacted."""
    signer = NoteSigner.generate("test.example/audit")
    write(sink_url, normal_trail(days=1), signer)
    size = len(stored(sink_url))
    monkeypatch.setenv("USER", "auditor_ann")
    assert run(capsys, "verify", sink_url, "--log-access")[0] == 0
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS", "true")
    assert run(capsys, "alerts", sink_url, "--since", "2026-11-02")[0] == 0
    reads = stored(sink_url)[size:]
    assert [(r["event_type"], r["user_id"], r["details"]["action"]) for r in reads] == [
        ("audit.read", "auditor_ann", "verify"),
        ("audit.read", "auditor_ann", "alerts"),
    ]
    assert reads[1]["details"]["filters"] == {"since": "2026-11-02T00:00:00Z"}
    assert {r["details"]["sink"] for r in reads} == {redact_url(sink_url)}
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier.vkey())
    assert result.ok, result.summary()


def test_log_access_redacts_filters(tmp_path, capsys, monkeypatch):
    """A filter holding personal data is recorded redacted, never in clear."""
    from opentelemetry_instrumentation_toolaudit._cli_compliance import log_access

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, normal_trail(days=1))
    size = len(stored(url))
    args = cli.build_parser().parse_args(["verify", url, "--log-access"])
    args.search = "jane.doe@example.com"  # as a search command's filter would be
    log_access(args)
    (read,) = stored(url)[size:]
    assert "jane.doe@example.com" not in json.dumps(read)
    assert read["details"]["filters"]["search"].startswith("<EMAIL:hmac-sha256:")


def test_log_access_on_an_unwritable_sink_warns_and_reads(tmp_path, capsys):
    """When the access cannot be logged (a sink that is not there), a warning says so on stderr
    and the command runs as it would."""
    code, _, err = run(capsys, "verify", str(tmp_path / "missing.db"), "--log-access")
    assert code == 2
    assert "warning: this access was not logged" in err


def test_audit_read_events_do_not_raise_alerts(tmp_path, capsys):
    """Reads of the trail are not accesses: they never trip an access rule."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    trail = Trail()
    for i in range(20):
        trail.add(i, "auditor", subject(1), event_type="audit.read")
    write(url, trail)
    assert run(capsys, "alerts", url)[0] == 0


def test_log_access_masks_the_sink_password(pg_url, capsys):
    """The sink recorded in an audit.read event, on a real PostgreSQL sink reached with a password
    in its URL, has the password masked; nothing printed shows it either."""
    url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
    write(url, normal_trail(days=1))
    _, out, err = run(capsys, "verify", url, "--log-access")
    (read,) = [r for r in stored(url) if r["event_type"] == "audit.read"]
    assert "s3cr3t-pw" not in json.dumps(read) + out + err
    assert read["details"]["sink"] == redact_url(url)


def test_report_break_glass_since(sink_url, capsys):
    """`report break-glass --since` keeps the uses recorded since then (one indexed query)."""
    write(sink_url, glass_trail())
    code, out, err = run(
        capsys, "report", "break-glass", sink_url, "--since", "2026-11-03", "--format", "json"
    )
    assert (code, [r["user_id"] for r in json.loads(out)], err.strip()) == (
        0,
        ["dr_cuddy"],
        "1 break-the-glass uses",
    )


def test_query_commands_log_access_with_the_subject_pseudonymized(tmp_path, capsys, monkeypatch):
    """`search` and `report access` take --log-access too; the subject they were asked about is
    recorded as its keyed pseudonym, never the value."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "k" * 32)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, normal_trail(days=1))
    size = len(stored(url))
    assert run(capsys, "search", url, "--subject", "P-1234", "--log-access")[0] == 0
    run(capsys, "report", "access", url, "--subject", "P-1234", "--from", "7d", "--log-access")
    reads = stored(url)[size:]
    assert [r["details"]["action"] for r in reads] == ["search", "report access"]
    assert "P-1234" not in json.dumps(reads)
    assert {r["details"]["filters"]["subject"][:12] for r in reads} == {"hmac-sha256:"}
