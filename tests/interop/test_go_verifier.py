# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The Go reference verifier (interop/go: golang.org/x/mod/sumdb/note, transparency-dev/merkle)
accepts a trail this package wrote and rejects tampered material; with witness keys, it checks the
C2SP cosignatures of a real ``toolaudit witness``."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_WITNESSES,
)
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.witness import Cosigner
from tests.audit._tamper import read_rows, write_rows
from tests.audit.conftest import write_log
from tests.interop._cli import toolaudit

GO_MODULE = Path(__file__).resolve().parents[2] / "interop" / "go"


@pytest.fixture(scope="session")
def go_verifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toolaudit-verify-go binary, built from interop/go (Go's build cache makes reruns quick)."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("go is not installed: CI builds and runs the Go reference verifier")
        pytest.skip("go is not installed: the Go reference verifier cannot be built")
    out = tmp_path_factory.mktemp("go") / "toolaudit-verify-go"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    subprocess.run(
        [go, "build", "-o", str(out), "./cmd/toolaudit-verify-go"],
        cwd=GO_MODULE,
        env=env,
        check=True,
        timeout=600,
    )
    return out


@pytest.fixture
def material(tmp_path: Path) -> Path:
    """A SQLite trail of 37 records (a checkpoint every 8) and its exported material, written
    with this package's CLI: the tree with entries, tlog-proofs and a consistency proof."""
    signer = NoteSigner.generate("test.example/audit")
    (tmp_path / "log.vkey").write_text(signer.verifier.vkey() + "\n")
    url = f"sqlite:///{tmp_path}/audit.db"
    write_log(url, signer, 37, every=8)
    export(tmp_path, url)
    return tmp_path


def export(directory: Path, url: str) -> None:
    tree = toolaudit("export-tree", url, "--entries")
    assert tree.returncode == 0, tree.stderr
    (directory / "tree.json").write_text(tree.stdout)
    for seq in (0, 13, 36):
        proof = toolaudit("prove", url, seq, "--format", "tlog-proof")
        assert proof.returncode == 0, proof.stderr
        (directory / f"{seq}.tlog-proof").write_text(proof.stdout)
    consistency = toolaudit("consistency", url, 8, 37)
    assert consistency.returncode == 0, consistency.stderr
    (directory / "consistency.json").write_text(consistency.stdout)


def run_go(binary: Path, directory: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-vkey", str(directory / "log.vkey"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def everything(directory: Path) -> list[str]:
    argv = ["-tree", str(directory / "tree.json")]
    for seq in (0, 13, 36):
        argv += ["-proof", str(directory / f"{seq}.tlog-proof")]
    return [*argv, "-consistency", str(directory / "consistency.json")]


def test_go_verifier_accepts_the_exported_trail(go_verifier, material):
    """The reference implementations verify every checkpoint signature, the root rebuilt from the
    hashed entries, three tlog-proofs and a consistency proof."""
    result = run_go(go_verifier, material, *everything(material))
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("OK: tree of 37 leaves, every entry hashed, root ")
    assert lines[0].endswith("5 signed checkpoints match it")
    assert all(line.startswith("OK: ") for line in lines)


def test_go_verifier_rejects_a_modified_record(go_verifier, material):
    """A record changed in the database (its stored hash kept) fails: its bytes hash to another leaf."""
    url = f"sqlite:///{material}/audit.db"
    rows = read_rows(url)
    edited = rows[13]["canonical"].replace(b'"model":"gpt-4.1"', b'"model":"gpt-4.9"')
    assert edited != rows[13]["canonical"]  # a field of the chained envelope
    rows[13]["canonical"] = edited
    write_rows(url, rows)
    export_tree = toolaudit("export-tree", url, "--entries")
    (material / "tree.json").write_text(export_tree.stdout)
    result = run_go(go_verifier, material, "-tree", str(material / "tree.json"))
    assert result.returncode == 1
    assert (
        result.stdout == "FAIL: entry 13 does not hash to its leaf hash: the record was modified\n"
    )


def test_go_verifier_rejects_a_tampered_leaf_hash(go_verifier, material):
    """A leaf hash changed in the exported tree gives a root that no signed checkpoint signs."""
    tree = json.loads((material / "tree.json").read_text())
    del tree["entries"]
    tree["leaf_hashes"][3] = "00" * 32
    (material / "tree.json").write_text(json.dumps(tree))
    result = run_go(go_verifier, material, "-tree", str(material / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: checkpoint 0 (size 8): the root of the leaves is ")


def test_go_verifier_rejects_a_tampered_checkpoint_signature(go_verifier, material):
    """One flipped bit of the log's signature in a tlog-proof fails the signed-note check."""
    path = material / "13.tlog-proof"
    text = path.read_text()
    head, _, signature_line = text.rstrip("\n").rpartition("\n")
    prefix, blob = signature_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[10] ^= 1
    path.write_text(f"{head}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n")
    result = run_go(go_verifier, material, "-proof", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL: {path}: checkpoint signature: ")


def test_go_verifier_rejects_a_wrong_consistency_proof(go_verifier, material):
    """A consistency proof with one hash replaced does not lead from the old root to the new."""
    path = material / "consistency.json"
    document = json.loads(path.read_text())
    document["proof"][1] = base64.b64encode(b"\x01" * 32).decode()
    path.write_text(json.dumps(document))
    result = run_go(go_verifier, material, "-consistency", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL: {path}: consistency from 8 to 37: ")


def test_go_verifier_rejects_a_proof_signed_by_another_key(go_verifier, material):
    """Material checked against a key that did not sign it fails (not a usage error)."""
    other = NoteSigner.generate("test.example/audit")
    (material / "log.vkey").write_text(other.verifier.vkey() + "\n")
    result = run_go(go_verifier, material, "-proof", str(material / "0.tlog-proof"))
    assert result.returncode == 1
    assert "checkpoint signature" in result.stdout


@pytest.fixture
def cosigned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A SQLite trail of 20 records (a checkpoint every 5) whose writer submitted each checkpoint
    to a real ``toolaudit witness`` subprocess, its exported material, and the witness's key."""
    from tests.witness.conftest import WitnessProcess  # skips without the witness extra

    signer = NoteSigner.generate("test.example/audit")
    (tmp_path / "log.vkey").write_text(signer.verifier.vkey() + "\n")
    process = WitnessProcess(tmp_path, tmp_path / "log.vkey").start()
    try:
        assert process.verifier is not None
        vkey = process.verifier.vkey()
        monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"{process.url}={vkey}")
        url = f"sqlite:///{tmp_path}/audit.db"
        write_log(url, signer, 20, every=5)
    finally:
        process.stop()
    (tmp_path / "witness.vkey").write_text(vkey + "\n")
    tree = toolaudit("export-tree", url, "--entries")
    assert tree.returncode == 0, tree.stderr
    (tmp_path / "tree.json").write_text(tree.stdout)
    proof = toolaudit("prove", url, 7, "--format", "tlog-proof")
    assert proof.returncode == 0, proof.stderr
    (tmp_path / "7.tlog-proof").write_text(proof.stdout)
    consistency = toolaudit("consistency", url, 5, 20)
    assert consistency.returncode == 0, consistency.stderr
    (tmp_path / "consistency.json").write_text(consistency.stdout)
    yield tmp_path, vkey


def witnessed_material(directory: Path) -> list[str]:
    return [
        "-tree",
        str(directory / "tree.json"),
        "-proof",
        str(directory / "7.tlog-proof"),
        "-consistency",
        str(directory / "consistency.json"),
    ]


def test_go_verifier_accepts_a_real_witness_cosignature(go_verifier, cosigned):
    """A trail cosigned by a real witness passes the Go verifier's cosignature/v1 check with the
    witness's key, given as text or as a file."""
    directory, vkey = cosigned
    for key in (vkey, str(directory / "witness.vkey")):
        result = run_go(go_verifier, directory, "-witness", key, *witnessed_material(directory))
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        quorum = [line for line in result.stdout.splitlines() if "witnesses" in line]
        assert quorum == [
            "OK: the widest checkpoint (size 20) is cosigned by 1 of the 1 witnesses "
            "(witness.test/w1; quorum 1)",
            f"OK: {directory}/7.tlog-proof: the proof's checkpoint (size 20) is cosigned by 1 of "
            "the 1 witnesses (witness.test/w1; quorum 1)",
            f"OK: {directory}/consistency.json: the new checkpoint (size 20) is cosigned by 1 of "
            "the 1 witnesses (witness.test/w1; quorum 1)",
        ]


def test_go_verifier_rejects_another_witness_key(go_verifier, cosigned):
    """A witness key that did not cosign (same name, another key) leaves every checkpoint without
    its quorum."""
    directory, _ = cosigned
    other = Cosigner.generate("witness.test/w1").verifier.vkey()
    result = run_go(go_verifier, directory, "-witness", other, *witnessed_material(directory))
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL: ")]
    assert failures == [
        "FAIL: the widest checkpoint (size 20) has 0 valid witness cosignature(s) (none), "
        "1 required",
        f"FAIL: {directory}/7.tlog-proof: the proof's checkpoint (size 20) has 0 valid witness "
        "cosignature(s) (none), 1 required",
        f"FAIL: {directory}/consistency.json: the new checkpoint (size 20) has 0 valid witness "
        "cosignature(s) (none), 1 required",
    ]


def test_go_verifier_rejects_a_flipped_cosignature_bit(go_verifier, cosigned):
    """One flipped bit in the witness's Ed25519 signature fails the checkpoint."""
    directory, vkey = cosigned
    path = directory / "7.tlog-proof"
    lines = path.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("\u2014 witness.test/w1 "))
    prefix, blob = lines[at].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[4 + 8 + 20] ^= 1  # a bit of the signature, after the key id and the timestamp
    lines[at] = f"{prefix} {base64.b64encode(bytes(raw)).decode()}"
    path.write_text("\n".join(lines))
    result = run_go(go_verifier, directory, "-witness", vkey, "-proof", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL: {path}: checkpoint signature: ")
    assert "witness.test/w1" in result.stdout


def test_go_verifier_rejects_a_quorum_above_the_cosignatures(go_verifier, cosigned):
    """A quorum of 2 over the real witness and a second key that never cosigned fails; a quorum
    of 1 over the same two keys passes."""
    directory, vkey = cosigned
    second = Cosigner.generate("witness.test/w2").verifier.vkey()
    keys = ["-witness", vkey, "-witness", second]
    result = run_go(
        go_verifier, directory, *keys, "-quorum", "2", "-tree", str(directory / "tree.json")
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        "FAIL: the widest checkpoint (size 20) has 1 valid witness cosignature(s) "
        "(witness.test/w1), 2 required"
    )
    result = run_go(
        go_verifier, directory, *keys, "-quorum", "1", "-tree", str(directory / "tree.json")
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout.splitlines()[-1] == (
        "OK: the widest checkpoint (size 20) is cosigned by 1 of the 2 witnesses "
        "(witness.test/w1; quorum 1)"
    )


def test_go_verifier_refuses_a_quorum_beyond_the_witness_keys(go_verifier, cosigned):
    """A quorum larger than the number of witness keys, or one without keys, is a usage error."""
    directory, vkey = cosigned
    tree = str(directory / "tree.json")
    result = run_go(go_verifier, directory, "-witness", vkey, "-quorum", "2", "-tree", tree)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "toolaudit-verify-go: error: -quorum 2 is not between 1 and the 1 -witness keys given\n"
    )
    result = run_go(go_verifier, directory, "-quorum", "1", "-tree", tree)
    assert (result.returncode, result.stdout) == (2, "")


def pruned_body(i: int) -> dict[str, object]:
    """The i-th call of 2026-11-24: records 0-10 general (1 year), the rest financial (7 years)."""
    tool = "lookup_order" if i < 11 else "charge_payment"
    recorded_at = f"2026-11-24T10:00:{i:02d}.000000Z"
    return {
        "event_id": f"{i:032x}",
        "event_type": "tool.call",
        "recorded_at": recorded_at,
        "tool_name": tool,
        "user_id": f"usr_{i % 3}",
        "arguments": {"order_id": f"ORD-{i}"},
        "success": True,
        "retain_until": RetentionPolicy().retain_until(tool, recorded_at).isoformat(),
    }


def make_pruned(directory: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> NoteSigner:
    """Write 20 records (a checkpoint every 5) to ``url``, prune the first 11 with `toolaudit
    retention apply --prune-prefix` as a real process, and export the material into ``directory``."""
    signer = NoteSigner.generate("test.example/audit")
    (directory / "signing.key").write_text(signer.skey() + "\n")
    (directory / "log.vkey").write_text(signer.verifier.vkey() + "\n")
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE, str(directory / "signing.key"))
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for i in range(20):
            log.append([pruned_body(i)])
    done = toolaudit("retention", "apply", url, "--prune-prefix", "--as-of", "2028-11-24")
    assert (done.returncode, done.stdout) == (0, "0-10\n"), done.stderr
    tree = toolaudit("export-tree", url, "--entries")
    assert tree.returncode == 0, tree.stderr
    assert "from record #11 (records #0..#10 pruned" in tree.stderr
    (directory / "tree.json").write_text(tree.stdout)
    proof = toolaudit("prove", url, 13, "--format", "tlog-proof")
    assert proof.returncode == 0, proof.stderr
    (directory / "13.tlog-proof").write_text(proof.stdout)
    consistency = toolaudit("consistency", url, 15)
    assert consistency.returncode == 0, consistency.stderr
    (directory / "consistency.json").write_text(consistency.stdout)
    return signer


@pytest.fixture
def pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, NoteSigner]:
    """A SQLite trail of 20 records whose first 11 were pruned, and its exported material."""
    return tmp_path, make_pruned(tmp_path, f"sqlite:///{tmp_path}/audit.db", monkeypatch)


def edit_tree(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    tree = json.loads((directory / "tree.json").read_text())
    change(tree)
    (directory / "tree.json").write_text(json.dumps(tree))


def resign(signer: NoteSigner, note: str, change: Callable[[str], str]) -> str:
    """``note``'s text changed by ``change`` and signed again with the log's key."""
    text = note.split("\n\n", 1)[0] + "\n"
    return signer.sign(change(text))


def test_export_tree_of_a_pruned_trail_starts_at_the_cut(pruned):
    """export-tree on a pruned trail lists the leaves from the cut on, the signed pruning
    checkpoint for the cut, and only the checkpoints at or after it."""
    directory, _ = pruned
    tree = json.loads((directory / "tree.json").read_text())
    sizes = [int(note.split("\n")[1]) for note in tree["checkpoints"]]
    assert (tree["first"], tree["size"], len(tree["leaf_hashes"])) == (11, 21, 10)
    assert len(tree["entries"]) == 10 and min(sizes) >= 11 and max(sizes) == 21
    lines = tree["pruning_checkpoint"].split("\n")
    assert (lines[1], lines[3]) == ("11", "toolaudit-prune/1")


def accepts_pruned(go_verifier: Path, directory: Path) -> None:
    result = run_go(
        go_verifier,
        directory,
        "-tree",
        str(directory / "tree.json"),
        "-proof",
        str(directory / "13.tlog-proof"),
        "-consistency",
        str(directory / "consistency.json"),
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "OK: tree of 21 leaves after records 0..10 pruned (signed frontier matches), record 11's "
        "prev_hash matches, every entry hashed, root "
    )
    assert len(lines) == 3 and all(line.startswith("OK: ") for line in lines)


def test_go_verifier_accepts_a_pruned_trail(go_verifier, pruned):
    """The Go verifier starts the tree from the pruning checkpoint's frontier, checks the first
    remaining record's prev_hash against it and every later checkpoint, and accepts the proofs."""
    accepts_pruned(go_verifier, pruned[0])


def test_go_verifier_accepts_a_pruned_jsonl_trail(go_verifier, tmp_path, monkeypatch):
    """The same holds for a JSONL trail pruned by the real command."""
    make_pruned(tmp_path, f"jsonl:///{tmp_path}/audit.jsonl", monkeypatch)
    accepts_pruned(go_verifier, tmp_path)


def test_go_verifier_rejects_a_pruned_trail_without_its_pruning_checkpoint(go_verifier, pruned):
    """Leaves that start after 0 with no pruning checkpoint, or with an ordinary checkpoint in its
    place, fail: the records before them were deleted."""
    directory, _ = pruned
    edit_tree(directory, lambda tree: tree.pop("pruning_checkpoint"))
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout == (
        "FAIL: the leaves start at 11 but there is no pruning checkpoint for records 0..10: "
        "they were deleted\n"
    )
    edit_tree(directory, lambda tree: tree.update(pruning_checkpoint=tree["checkpoints"][-1]))
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1 and "has no toolaudit-prune/1 line" in result.stdout


def _other_frontier(text: str) -> str:
    lines = text.split("\n")
    (i,) = [n for n, line in enumerate(lines) if line.startswith("frontier ")]
    hashes = lines[i].split(" ")[1:]
    hashes[-1] = base64.b64encode(bytes(32)).decode()
    lines[i] = "frontier " + " ".join(hashes)
    return "\n".join(lines)


def test_go_verifier_rejects_a_forged_frontier(go_verifier, pruned):
    """A pruning checkpoint whose frontier was changed fails: its signature as stored, and its
    root when signed again with the log's key."""
    directory, signer = pruned
    tree = json.loads((directory / "tree.json").read_text())
    note = tree["pruning_checkpoint"]
    text, signatures = note.split("\n\n", 1)
    edit_tree(
        directory,
        lambda t: t.update(pruning_checkpoint=_other_frontier(text) + "\n\n" + signatures),
    )
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: the pruning checkpoint: checkpoint signature: ")
    edit_tree(
        directory, lambda t: t.update(pruning_checkpoint=resign(signer, note, _other_frontier))
    )
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith(
        "FAIL: the pruning checkpoint (size 11): the frontier hashes to "
    )


def test_go_verifier_rejects_a_wrong_prev_hash(go_verifier, pruned):
    """A pruning checkpoint, validly signed, whose prev-hash is not the first remaining record's
    prev_hash fails."""
    directory, signer = pruned
    tree = json.loads((directory / "tree.json").read_text())
    forged = resign(
        signer,
        tree["pruning_checkpoint"],
        lambda text: re.sub(r"prev-hash [0-9a-f]{64}", "prev-hash " + "0" * 64, text),
    )
    edit_tree(directory, lambda t: t.update(pruning_checkpoint=forged))
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: record 11's prev_hash ")
    assert result.stdout.endswith(f"is not the pruning checkpoint's prev-hash {'0' * 64}\n")


def test_export_tree_without_a_pruning_checkpoint_fails(go_verifier, pruned):
    """A trail whose records stop short of 0 with no pruning checkpoint left: export-tree writes
    the document with none and exits 1, and the Go verifier fails it (first on the altered note,
    then, with that note left out, on the missing pruning checkpoint)."""
    from tests.compliance.test_prune import _rewrite_pruning_note

    directory, _ = pruned
    url = f"sqlite:///{directory}/audit.db"
    _rewrite_pruning_note(url, lambda note: note.replace("toolaudit-prune/1", "toolaudit-other/1"))
    tree = toolaudit("export-tree", url)
    assert tree.returncode == 1
    assert tree.stderr.splitlines()[-1] == (
        "FAIL: records #0..#10 are missing and no pruning checkpoint covers them: run "
        "`toolaudit verify`"
    )
    assert json.loads(tree.stdout)["pruning_checkpoint"] is None
    (directory / "tree.json").write_text(tree.stdout)
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: checkpoint 0: checkpoint signature: invalid signature")
    edit_tree(directory, lambda t: t.update(checkpoints=t["checkpoints"][1:]))
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: the leaves start at 11 but there is no pruning")


def test_go_verifier_rejects_a_pruning_checkpoint_naming_a_tool_call(go_verifier, pruned):
    """A pruning checkpoint, validly signed, whose admin-event line names a tool call among the
    exported entries fails."""
    directory, signer = pruned
    tree = json.loads((directory / "tree.json").read_text())
    forged = resign(
        signer,
        tree["pruning_checkpoint"],
        lambda text: re.sub(r"\nadmin-event \d+\n", "\nadmin-event 13\n", text),
    )
    edit_tree(directory, lambda t: t.update(pruning_checkpoint=forged))
    result = run_go(go_verifier, directory, "-tree", str(directory / "tree.json"))
    assert (result.returncode, result.stdout) == (
        1,
        "FAIL: the pruning checkpoint (size 11) names admin event 13, but record 13 is not an "
        "admin record\n",
    )
