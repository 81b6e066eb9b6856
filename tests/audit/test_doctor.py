# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit doctor`: checks a writer's configuration, says what to fix, never shows a secret."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

from .conftest import _pg_admin, body, write_log

SECRET = "pw-Xy7-not-for-output"
HASH_KEY = "hash-key-never-printed-0123456789"


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """A working configuration: a written SQLite trail, its keys and a checkpoint directory."""
    key = tmp_path / "signing.key"
    signer = NoteSigner.from_file(key)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    write_log(url, signer, 3)
    (tmp_path / "checkpoints").mkdir()
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", url)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(key))
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS", "openai")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = cli.main(["doctor", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_a_working_configuration_passes(configured, capsys):
    """Sink, keys and checkpoint directory all usable: every line OK or INFO, exit 0."""
    code, lines, err = run(capsys)
    assert code == 0, lines
    assert lines[0] == (
        f"OK    sink sqlite:///{configured / 'audit.db'} (OTEL_PYTHON_TOOLAUDIT_SINK): "
        "writable, 3 records"
    )
    assert lines[1].startswith(f"OK    signing key {configured / 'signing.key'} ")
    assert lines[2] == "OK    hash key (OTEL_PYTHON_TOOLAUDIT_HASH_KEY): set"
    assert lines[3] == (
        f"OK    checkpoint directory {configured / 'checkpoints'} "
        "(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR): writable"
    )
    assert (
        "INFO  integration openai: disabled (OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS)" in lines
    )
    assert "doctor: OK" in err


def test_each_problem_is_named_with_its_fix(configured, monkeypatch, capsys):
    """An impossible sink path, an unreadable signing key, a short hash key and a checkpoint
    'directory' that is a file: four failures, each followed by the fix naming its variable; exit 1."""
    (configured / "file").write_text("not a directory")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", f"jsonl:///{configured / 'file' / 'a.jsonl'}")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(configured))
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "short")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR", str(configured / "file"))
    code, lines, err = run(capsys)
    failures = [line.split("): ")[0] + ")" for line in lines if line.startswith("FAIL")]
    fixes = [line for line in lines if line.startswith("      fix: ")]
    assert (code, err.strip()) == (1, "doctor: 4 problem(s) to fix")
    assert failures == [
        f"FAIL  sink jsonl:///{configured / 'file' / 'a.jsonl'} (OTEL_PYTHON_TOOLAUDIT_SINK)",
        f"FAIL  signing key {configured} (OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE)",
        "FAIL  hash key (OTEL_PYTHON_TOOLAUDIT_HASH_KEY)",
        f"FAIL  checkpoint directory {configured / 'file'} (OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR)",
    ]
    for fix, variable in zip(
        fixes,
        ("SINK", "SIGNING_KEY_FILE", "HASH_KEY", "CHECKPOINT_DIR"),
        strict=True,
    ):
        assert f"OTEL_PYTHON_TOOLAUDIT_{variable}" in fix


def test_no_secret_is_ever_shown(configured, monkeypatch, capsys):
    """Neither the sink URL's password, the hash key nor the signing key appears in the output."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", f"postgresql://audit:{SECRET}@127.0.0.1:1/x")
    code, lines, err = run(capsys)
    text = "\n".join(lines) + err
    assert (code, SECRET in text, HASH_KEY in text) == (1, False, False)
    assert "PRIVATE+KEY" not in text and "audit:***@127.0.0.1:1/x" in text
    code, lines, err = run(capsys, "--format", "json", "--sink", f"postgresql://a:{SECRET}@h:1/x")
    assert SECRET not in "\n".join(lines) + err


def test_a_new_file_sink_and_keys_are_fine_when_they_can_be_created(tmp_path, monkeypatch, capsys):
    """A sink file, signing key and hash key file that do not exist yet pass when their directory
    is writable, and the doctor creates none of them."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv(
        "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "k" / "signing.key")
    )
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", raising=False)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(tmp_path / "hash.key"))
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR", raising=False)
    code, lines, _ = run(capsys, "--format", "json")
    findings = json.loads("\n".join(lines))
    assert code == 0
    assert [f["status"] for f in findings[:4]] == ["ok", "ok", "ok", "info"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_postgres_schema_a_role_may_not_create_is_reported_without_creating_anything(
    pg_url, monkeypatch, capsys
):
    """A PostgreSQL schema that does not exist and that the role may not create: the doctor says
    which CREATE SCHEMA to run, and creates nothing itself."""
    role = f"toolaudit_app_{uuid.uuid4().hex[:8]}"
    schema = f"toolaudit_new_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    url = pg_url.rsplit("%3D", 1)[0].replace("postgres@", f"{role}@") + f"%3D{schema}"
    try:
        code, lines, _ = run(capsys, "--sink", url)
        exists = admin.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()[0]
    finally:
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()
    assert (code, exists) == (1, 0)
    assert lines[0].endswith(
        f"no audit tables yet and this role may not create them: as an administrator, run "
        f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}";'
    )


def test_the_console_script_exits_1_on_a_problem(tmp_path):
    """`toolaudit doctor` run as a program exits 1 when the sink cannot be used."""
    (tmp_path / "file").write_text("x")
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("toolaudit")),
            "doctor",
            "--sink",
            f"sqlite:///{tmp_path / 'file' / 'a.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr.strip()) == (1, "doctor: 1 problem(s) to fix")


def test_a_hash_key_file_others_may_read_is_a_problem(configured, monkeypatch, capsys):
    """A hash key file readable by group or others fails, with the chmod that fixes it."""
    key = configured / "hash.key"
    key.write_text(HASH_KEY + "\n")
    key.chmod(0o644)
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(key))
    code, lines, _ = run(capsys)
    assert code == 1
    assert lines[2:4] == [
        f"FAIL  hash key {key} (OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE): readable by group or others",
        f"      fix: chmod 600 {key}",
    ]
    assert HASH_KEY not in "\n".join(lines)


@pytest.mark.parametrize("name", ["a.db", "a.jsonl"])
def test_a_file_sink_in_a_missing_directory_is_a_problem(tmp_path, monkeypatch, capsys, name):
    """The writer does not create a sink file's directory, so the doctor says to create it."""
    scheme = "jsonl" if name.endswith(".jsonl") else "sqlite"
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", f"{scheme}:///{tmp_path / 'nodir' / name}")
    code, lines, _ = run(capsys, "--format", "json")
    (sink,) = [f for f in json.loads("\n".join(lines)) if f["item"].startswith("sink ")]
    assert (code, sink["status"]) == (1, "fail")
    assert f"mkdir -p {tmp_path / 'nodir'}" in sink["fix"]


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_pruned_trail_is_not_a_problem(kind, tmp_path, monkeypatch, capsys):
    """A trail whose expired prefix `toolaudit retention apply --prune-prefix` removed is writable
    and whole: the sink line is OK and says which records were pruned."""
    key = tmp_path / "signing.key"
    signer = NoteSigner.from_file(key)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(key))
    url = f"{kind}:///{tmp_path / 'audit'}.{kind if kind == 'jsonl' else 'db'}"
    with AuditLog(open_sink(url), signer=signer) as log:
        for i in range(6):
            log.append([body(i, tool_name="lookup_order" if i < 4 else "charge_payment")])
    assert cli.main(["retention", "apply", url, "--prune-prefix", "--as-of", "2028-11-24"]) == 0
    capsys.readouterr()
    code, lines, _ = run(capsys, "--sink", url)
    assert code == 0, lines
    assert lines[0] == (
        f"OK    sink {url} (--sink): writable, 7 records (records #0..#3 pruned behind a pruning "
        "checkpoint signed with the signing key)"
    )


def test_a_pruning_checkpoint_of_another_key_is_a_problem(tmp_path, monkeypatch, capsys):
    """A trail whose widest pruning checkpoint the signing key did not sign is not called signed:
    the sink line fails and says to run verify."""
    import dataclasses

    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import sign_checkpoint
    from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
    from opentelemetry_instrumentation_toolaudit.ledger._prune import frontier_blocks, latest

    key = tmp_path / "signing.key"
    signer = NoteSigner.from_file(key)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(key))
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with AuditLog(open_sink(url), signer=signer) as log:
        for i in range(6):
            log.append([body(i, tool_name="lookup_order" if i < 4 else "charge_payment")])
    assert cli.main(["retention", "apply", url, "--prune-prefix", "--as-of", "2028-11-24"]) == 0
    capsys.readouterr()
    with open_sink(url, create=False) as sink:
        pruning = latest(sink.checkpoints(), sink.log_id())
        assert pruning is not None
        frontier = tuple(bytes([n]) * 32 for n, _ in enumerate(frontier_blocks(5)))
        wider = dataclasses.replace(
            pruning, cut=5, frontier=frontier, root=Frontier(5, frontier).root()
        )
        other = NoteSigner.generate(signer.name)
        sink.write_checkpoint(sign_checkpoint(wider.checkpoint(log.origin), other), 5)
    code, lines, _ = run(capsys, "--sink", url)
    assert code == 1, lines
    assert lines[0] == (
        f"FAIL  sink {url} (--sink): writable, 7 records (records #0..#4 pruned behind a pruning "
        "checkpoint not signed with the signing key)"
    )
