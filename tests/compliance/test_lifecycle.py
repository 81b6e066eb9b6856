# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit retention apply` and `toolaudit erase` on real sinks: payloads go, envelopes and
verification stay."""

from __future__ import annotations

import gzip
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    default_key_path,
    open_sink,
    public_key_path,
    verify,
)
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

from .conftest import pg_url  # noqa: F401 - fixture

KINDS = ("sqlite", "jsonl", "postgres")
TOOLS = ("lookup_order", "charge_payment", "get_customer")  # general, financial, general
SUBJECTS = ("cust-001", "cust-002", "cust-003")


def body(i: int, *, with_retain_until: bool = True) -> dict[str, Any]:
    """The i-th tool call, recorded on 2026-11-24, about one of three customers."""
    tool = TOOLS[i % 3]
    recorded_at = f"2026-11-24T10:00:{i % 60:02d}.000000Z"
    record: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "event_type": "tool.call",
        "recorded_at": recorded_at,
        "tool_name": tool,
        "user_id": f"usr_{i % 4}",
        "subject": RedactionPolicy.from_env().pseudonym(SUBJECTS[i % 3]),
        "arguments": {"customer_id": "<pseudonym>", "note": f"secret note {i}"},
        "result_summary": {"ok": True},
        "success": True,
    }
    if with_retain_until:
        record["retain_until"] = RetentionPolicy().retain_until(tool, recorded_at).isoformat()
    return record


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An audit trail of 12 calls (the last 3 without retain_until) on each kind of sink."""
    kind = request.param
    if kind == "sqlite":
        target = f"sqlite:///{tmp_path / 'audit.db'}"
    elif kind == "jsonl":
        target = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    else:
        target = str(request.getfixturevalue("pg_url"))
    write(target, [body(i, with_retain_until=i < 9) for i in range(12)])
    return target


def write(url: str, bodies: list[dict[str, Any]]) -> None:
    signer = NoteSigner.from_file(default_key_path())
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for b in bodies:
            log.append([b])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


def archived(archive: Path) -> list[dict[str, Any]]:
    with gzip.open(archive / "records.jsonl.gz", "rt") as file:
        return [json.loads(line) for line in file]


def verified(url: str) -> Any:
    with open_sink(url, create=False) as sink:
        return verify(sink, public_key=str(public_key_path(default_key_path())))


def test_retention_removes_exactly_the_expired_payloads(url, capsys):
    """Two years ahead, general calls' payloads go and financial ones stay; verify stays green and
    reports them; the admin event names categories, count and ranges, never a value."""
    before = records(url)
    code, out, err = run(
        capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--format", "json"
    )
    assert code == 0, err
    document = json.loads(out)
    general = [r["seq"] for r in before if r["tool_name"] != "charge_payment"]
    assert document["removed"] == len(general) == 8
    assert document["categories"] == {"general": 8}
    after = records(url)
    for old, new in zip(before, after, strict=False):
        if old["seq"] in general:
            assert new.get("payload_erased") is True and "arguments" not in new
            assert new["subject"] == old["subject"]
        else:
            assert new == old
    admin = after[-1]
    assert admin["event_type"] == "admin"
    assert admin["details"]["action"] == "retention"
    assert admin["details"]["categories"] == {"general": 8}
    assert admin["details"]["payloads"] == 8
    assert admin["details"]["seqs"] == document["seqs"]
    assert "secret note" not in json.dumps(admin)
    assert admin["retain_until"] > "2033-"  # kept as long as the longest period (2555 days)
    result = verified(url)
    assert result.ok, result.summary()
    assert result.erased_payloads == general
    assert "8 payloads erased" in result.summary()
    assert result.covered == len(after)


def test_retention_seven_years_ahead_removes_financial_too(url, capsys):
    """Eight years ahead, the financial payloads (kept 2555 days) go as well."""
    code, _, err = run(capsys, "retention", "apply", url, "--as-of", "2034-12-01")
    assert code == 0, err
    assert "removed 12 payloads (financial 4, general 8)" in err
    assert verified(url).ok


def test_retention_dry_run_changes_nothing(url, capsys):
    """A dry run lists what would go and leaves records, payloads and checkpoints as they were."""
    with open_sink(url, create=False) as sink:
        before = ([r.record for r in sink.read()], sink.checkpoints())
    code, out, err = run(capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--dry-run")
    assert code == 0
    assert out.split() == ["0", "2-3", "5-6", "8-9", "11"]
    assert err.startswith("DRY RUN: would remove 8 payloads (general 8)")
    with open_sink(url, create=False) as sink:
        assert ([r.record for r in sink.read()], sink.checkpoints()) == before


def test_nothing_expired_records_nothing(url, capsys):
    """Before any retain_until, nothing is removed and no admin event is written."""
    size = len(records(url))
    code, _, err = run(capsys, "retention", "apply", url, "--as-of", "2026-12-01")
    assert (code, err.strip()) == (0, "OK: no payload expired before 2026-12-01")
    assert len(records(url)) == size


def test_a_deleted_envelope_still_fails_verify(tmp_path, capsys):
    """Beyond what retention removed, a record row deleted by hand fails verify."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(12)])
    assert run(capsys, "retention", "apply", url, "--as-of", "2028-11-24")[0] == 0
    conn = sqlite3.connect(tmp_path / "audit.db")
    conn.execute("DROP TRIGGER audit_records_no_delete")
    conn.execute("DELETE FROM audit_records WHERE seq = 4")
    conn.commit()
    conn.close()
    result = verified(url)
    assert not result.ok
    assert result.first_bad_seq == 4


def test_a_deleted_envelope_still_fails_verify_postgres(pg_url, capsys):  # noqa: F811
    """On PostgreSQL too, a record row deleted by hand after retention fails verify."""
    import psycopg

    write(pg_url, [body(i) for i in range(12)])
    assert run(capsys, "retention", "apply", pg_url, "--as-of", "2028-11-24")[0] == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_records WHERE seq = 4")
    result = verified(pg_url)
    assert not result.ok
    assert result.first_bad_seq == 4


def test_archive_verifies_alone_and_tampering_fails(tmp_path, capsys):
    """--archive writes records 0.. through the covering checkpoint with their payloads; `toolaudit
    verify` on it is green, and fails once an archived record is changed."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(12)])
    code, out, err = run(
        capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--archive",
        str(tmp_path / "archives"), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    archive = Path(json.loads(out)["archive"])
    assert archive.parent == tmp_path / "archives"
    lines = archived(archive)
    assert [x["seq"] for x in lines] == list(range(12))
    assert all(x["payload"] is not None for x in lines)  # written before the removal
    manifest = json.loads((archive / "manifest.json").read_text())
    assert manifest["records"] == 12 and manifest["expired"] == ["0", "2-3", "5-6", "8-9", "11"]
    key = str(public_key_path(default_key_path()))
    code, out, err = run(capsys, "verify", str(archive), "--public-key", key)
    assert code == 0, out + err
    assert out.startswith("OK: 12 records")
    lines[3]["canonical"] = lines[3]["canonical"].replace("usr_3", "usr_9")
    with gzip.open(archive / "records.jsonl.gz", "wt") as file:
        file.writelines(json.dumps(x) + "\n" for x in lines)
    code, out, _ = run(capsys, "verify", str(archive), "--public-key", key)
    assert code == 1
    assert out.startswith("FAIL: record #3")


def test_archive_payload_tampering_fails(tmp_path, capsys):
    """A changed payload in an archive fails verify against its envelope's payload hash."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(6)])
    run(capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--archive", str(tmp_path))
    (archive,) = tmp_path.glob("toolaudit-archive-*")
    lines = archived(archive)
    lines[0]["payload"] = lines[0]["payload"].replace("secret note 0", "secret note X")
    with gzip.open(archive / "records.jsonl.gz", "wt") as file:
        file.writelines(json.dumps(x) + "\n" for x in lines)
    key = str(public_key_path(default_key_path()))
    code, out, _ = run(capsys, "verify", str(archive), "--public-key", key)
    assert (code, out.startswith("FAIL: record #0")) == (1, True)


def test_erase_subject(url, capsys):
    """Erasing a subject by value removes its payloads only, records the pseudonym, the sequence
    numbers and the redacted reason, and verify stays green reporting them."""
    pseudonym = RedactionPolicy.from_env().pseudonym("cust-002")
    before = records(url)
    code, out, err = run(
        capsys, "erase", url, "--subject", "cust-002", "--reason", "request by jane@example.com",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert "cust-002" not in out + err and "jane@example.com" not in out + err
    theirs = [r["seq"] for r in before if r["subject"] == pseudonym]
    assert json.loads(out)["removed"] == len(theirs) == 4
    after = records(url)
    for old, new in zip(before, after, strict=False):
        if old["seq"] in theirs:
            assert new["payload_erased"] is True and "arguments" not in new
        else:
            assert new == old
    admin = after[-1]
    assert admin["event_type"] == "admin"
    assert admin["details"]["subject"] == pseudonym
    assert admin["details"]["seqs"] == ["1", "4", "7", "10"]
    assert "jane@example.com" not in json.dumps(admin)
    assert admin["details"]["reason"].startswith("request by <EMAIL")
    result = verified(url)
    assert result.ok and result.erased_payloads == theirs
    # A query for the subject shows the envelopes, marked as erased.
    code, out, _ = run(capsys, "search", url, "--subject", "cust-002", "--format", "json")
    found = json.loads(out)
    assert code == 0 and [r["seq"] for r in found] == theirs
    assert all(r["record"]["payload_erased"] is True for r in found)
    assert all(r["record"]["subject"] == pseudonym for r in found)
    # By pseudonym, a second run finds nothing left to remove.
    code, _, err = run(capsys, "erase", url, "--subject", pseudonym)
    assert (code, err.startswith(f"OK: no payload of subject {pseudonym}")) == (0, True)


def test_erase_dry_run_changes_nothing(tmp_path, capsys):
    """An erasure dry run names the records and changes nothing."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(6)])
    before = records(url)
    code, out, err = run(capsys, "erase", url, "--subject", "cust-001", "--dry-run")
    assert (code, out.split()) == (0, ["0", "3"])
    assert "would remove 2 payloads" in err
    assert records(url) == before


def test_erase_without_signing_key_changes_nothing(tmp_path, capsys, monkeypatch):
    """Without the writer's signing key, erasure is a one-line usage error before any change."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(3)])
    before = records(url)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "none.key"))
    code, out, err = run(capsys, "erase", url, "--subject", "cust-001")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "no signing key" in err
    assert records(url) == before


@pytest.fixture
def pg_roles(pg_url: str) -> Any:  # noqa: F811
    """A writer role (grant_writer) and a maintenance role (grant_writer + grant_maintainer) on a
    trail of 6 calls; their URLs."""
    import psycopg

    from tests.audit.conftest import PG_BASE

    write(pg_url, [body(i) for i in range(6)])
    tag = uuid.uuid4().hex[:8]
    writer, maintainer = f"toolaudit_w_{tag}", f"toolaudit_m_{tag}"
    admin = psycopg.connect(PG_BASE, autocommit=True)
    for role in (writer, maintainer):
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    with open_sink(pg_url) as sink:
        sink.grant_writer(writer)
        sink.grant_writer(maintainer)
        sink.grant_maintainer(maintainer)
    try:
        yield tuple(pg_url.replace("postgres@", f"{role}@", 1) for role in (writer, maintainer))
    finally:
        for role in (writer, maintainer):
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def test_postgres_writer_cannot_erase_maintainer_can(pg_roles, capsys):
    """The application's writer role gets a one-line error (exit 2) and removes nothing; the
    maintenance role removes the subject's payloads and verify stays green."""
    writer_url, maintainer_url = pg_roles
    before = records(maintainer_url)
    code, out, err = run(capsys, "erase", writer_url, "--subject", "cust-001")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "permission denied" in err
    assert [r for r in records(maintainer_url) if r.get("payload_erased")] == []
    assert records(maintainer_url)[: len(before)] == before
    code, _, err = run(capsys, "retention", "apply", maintainer_url, "--as-of", "2028-11-24")
    assert code == 0, err
    code, _, err = run(capsys, "erase", maintainer_url, "--subject", "cust-002")
    assert code == 0, err
    result = verified(maintainer_url)
    assert result.ok, result.summary()
    assert result.erased_payloads == [0, 1, 2, 3, 4, 5]


def test_retention_reads_sql_stores_page_by_page(tmp_path, capsys, monkeypatch):
    """Records are found across pages of the indexed query, none missed at a page's edge."""
    from opentelemetry_instrumentation_toolaudit.lifecycle import _plan

    monkeypatch.setattr(_plan, "PAGE", 2)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(12)])
    code, out, err = run(capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--dry-run")
    assert (code, out.split()) == (0, ["0", "2-3", "5-6", "8-9", "11"]), err


def test_archive_missing_record_fails(tmp_path, capsys):
    """An archive with a record line removed fails verify."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(6)])
    run(capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--archive", str(tmp_path))
    (archive,) = tmp_path.glob("toolaudit-archive-*")
    lines = archived(archive)
    del lines[2]
    with gzip.open(archive / "records.jsonl.gz", "wt") as file:
        file.writelines(json.dumps(x) + "\n" for x in lines)
    key = str(public_key_path(default_key_path()))
    code, out, _ = run(capsys, "verify", str(archive), "--public-key", key)
    assert code == 1 and out.startswith("FAIL: record #2"), out


def test_policy_file_dates_only_records_without_retain_until(tmp_path, capsys):
    """A record's own retain_until wins; one without it is dated by --policy-file from its
    recorded_at; an unreadable policy file is a one-line usage error."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i, with_retain_until=i < 9) for i in range(12)])
    policy = tmp_path / "retention.toml"
    policy.write_text('[retention.short]\nretention_days = 10\ntools = "*"\n')
    code, out, err = run(
        capsys, "retention", "apply", url, "--as-of", "2026-12-15", "--policy-file", str(policy),
        "--dry-run", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["seqs"] == ["9-11"] and json.loads(out)["categories"] == {"short": 3}
    policy.write_text("[retention]\n")
    code, out, err = run(capsys, "retention", "apply", url, "--policy-file", str(policy))
    assert (code, out, len(err.splitlines())) == (2, "", 1)
    assert "no [retention.<category>] table" in err


def test_existing_archive_is_never_overwritten(tmp_path, capsys):
    """When the archive of the same records exists, the run stops with a one-line error before
    removing anything."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write(url, [body(i) for i in range(6)])
    with open_sink(url, create=False) as sink:
        log_id = sink.log_id()
    (tmp_path / f"toolaudit-archive-{log_id}-0-5").mkdir()
    before = records(url)
    code, out, err = run(
        capsys, "retention", "apply", url, "--as-of", "2028-11-24", "--archive", str(tmp_path)
    )
    assert (code, out, len(err.splitlines())) == (2, "", 1)
    assert "exists already; nothing was removed" in err
    assert records(url) == before
