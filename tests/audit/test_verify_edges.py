# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""verify on the in-memory sink, edited as an attacker would: every checkpoint is read whatever
comes before it, odd checkpoints and keys, problem limits, and what the result says."""

from __future__ import annotations

import json
import os

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    Checkpoint,
    NoteSigner,
    open_sink,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import EMPTY_ROOT
from opentelemetry_instrumentation_toolaudit.ledger._problems import (
    CHECKPOINT,
    DELETED,
    FORK,
    INSERTED,
    LINK,
    MAX_PROBLEMS,
    MODIFIED,
    REPLACED,
    REWRITTEN,
    SIGNATURE,
    TRUNCATED,
    UNANCHORED,
    Problem,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores.memory import MemorySink

from .conftest import body, write_log

N = 12
EVERY = 4


@pytest.fixture
def sink(signer):
    """A memory sink holding N records, with checkpoints at 4, 8 and 12."""
    memory = MemorySink()
    log = AuditLog(memory, signer=signer, checkpoint_every=EVERY, checkpoint_interval=3600)
    for i in range(N):
        log.append([body(i)])
    log.close()
    assert [open_checkpoint(n)[0].size for n in memory.checkpoints()] == [4, 8, 12]
    return memory


def _origin(sink):
    return open_checkpoint(sink.checkpoints()[0])[0].origin


def _problems(result):
    return [(p.seq, p.kind, p.message) for p in result.problems]


def test_untouched_trail_result(sink, signer):
    """An untouched trail: OK, every checkpoint compared, signatures checked, anchored."""
    result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size, result.checkpoints, result.anchored) == (True, N, 3, True)
    assert result.root == sink.head().root.hex()
    assert result.summary() == (
        f"OK: {N} records, root {result.root} (log {sink.log_id()}; 3 checkpoints)"
    )
    assert result.to_json() == {
        "ok": True,
        "sink": "memory://",
        "size": N,
        "root": result.root,
        "checkpoints": 3,
        "signatures_checked": True,
        "key_pinned": True,
        "anchored": True,
        "log_id": sink.log_id(),
        "covered": N,
        "foreign_checkpoints": [],
        "repairs": [],
        "erased_payloads": [],
        "pruned": None,
        "first_bad_seq": None,
        "problems": [],
        "follow_ons": 0,
    }


def test_without_a_key_the_result_says_unanchored(sink):
    """Without a public key, signatures are not checked, nothing anchors the trail, and the OK line
    says so."""
    result = verify(sink)
    assert (result.ok, result.signatures_checked, result.anchored) == (True, False, False)
    assert result.summary() == (
        f"OK: {N} records, root {result.root} (log {sink.log_id()}; 3 checkpoints; "
        "unanchored: no public key given, signatures not checked)"
    )


def test_a_forged_checkpoint_before_the_real_ones(sink, signer):
    """A checkpoint signed by another key, placed before the real ones, fails its signature as
    injected (the others verify with the key, so the key is not wrong) and the real checkpoints
    after it are still read and compared."""
    attacker = NoteSigner.generate(signer.name)
    real = sink.checkpoints()
    forged = sign_checkpoint(Checkpoint(_origin(sink), 6, bytes(32)), attacker)
    sink._checkpoints[:] = [forged, *real]
    result = verify(sink, public_key=signer.verifier)
    assert (result.checkpoints, result.anchored) == (3, True)
    assert _problems(result) == [
        (
            4,
            SIGNATURE,
            "checkpoint for size 6 (sink) is signed by another key: an injected or re-signed "
            "checkpoint (or one signed with an earlier key that was not given)",
        )
    ]


def test_an_altered_signature_is_not_called_a_wrong_key(sink, signer):
    """A checkpoint carrying the trusted key's name and id but a signature that does not verify
    is reported as altered or forged, not as a wrong public key."""
    import base64

    real = sink.checkpoints()
    text, _, signature_line = real[0].rstrip("\n").rpartition("\n")
    prefix, blob = signature_line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    sink._checkpoints[0] = f"{text}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (
            0,
            SIGNATURE,
            f"checkpoint for size 4 (sink) fails signature verification (the signature by "
            f"{signer.name} does not verify): the checkpoint was altered or forged",
        )
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("garbage", "checkpoint in sink is unreadable (malformed note: no signature block)"),
        (None, "checkpoint sink cannot be read"),
    ],
)
def test_an_unreadable_checkpoint_before_the_real_ones(sink, signer, bad, message):
    """An unreadable or malformed checkpoint is one problem, and the checkpoints after it are read."""
    sink._checkpoints[:] = [bad, *sink.checkpoints()]
    result = verify(sink, public_key=signer.verifier)
    assert (result.checkpoints, result.anchored) == (3, True)
    assert _problems(result) == [(0, CHECKPOINT, message)]


def test_a_foreign_checkpoint_before_the_real_ones(sink, signer):
    """A checkpoint of another log (shared checkpoints, its log id given) is set aside, and the
    checkpoints after it are read."""
    other = sign_checkpoint(Checkpoint(f"{signer.name}/{'f' * 32}", 3, bytes(32)), signer)
    sink._checkpoints[:] = [other, *sink.checkpoints()]
    result = verify(sink, public_key=signer.verifier, log_id=sink.log_id())
    assert (result.ok, result.checkpoints, result.foreign) == (True, 3, ["sink"])
    assert result.summary() == (
        f"OK: {N} records, root {result.root} (log {sink.log_id()}; 3 checkpoints; "
        "1 checkpoints of other logs ignored)"
    )


def test_a_trusted_checkpoint_of_another_log_means_the_trail_was_replaced(sink, signer):
    """Without an expected log id, a trusted checkpoint naming another log is reported."""
    other_id = "f" * 32
    other = sign_checkpoint(Checkpoint(f"{signer.name}/{other_id}", 3, bytes(32)), signer)
    sink._checkpoints[:] = [other, *sink.checkpoints()]
    result = verify(sink, public_key=signer.verifier)
    own = sink.log_id()
    assert _problems(result) == [
        (
            0,
            REPLACED,
            f"checkpoint sink (size 3) is of log {other_id}, but this trail is log {own}: the "
            "trail was replaced, or several logs share the checkpoints (then verify with "
            f"--log-id {own} if that is the id this log was set up with)",
        )
    ]
    assert (result.checkpoints, result.foreign) == (3, ["sink"])


def test_without_a_key_a_checkpoint_of_another_log_means_the_trail_was_replaced(sink, signer):
    """Without a key to tell trusted checkpoints from others, one naming another log is reported."""
    other_id = "f" * 32
    other = sign_checkpoint(Checkpoint(f"{signer.name}/{other_id}", 3, bytes(32)), signer)
    sink._checkpoints.append(other)
    result = verify(sink)
    assert [(p.seq, p.kind) for p in result.problems] == [(0, REPLACED)]
    assert result.problems[0].message.startswith(f"checkpoint sink (size 3) is of log {other_id},")


def test_an_untrusted_checkpoint_of_another_log_is_ignored(sink, signer):
    """A checkpoint of another log signed by a key not trusted here is somebody else's: ignored."""
    stranger = NoteSigner.generate("stranger.example/audit")
    other = sign_checkpoint(Checkpoint(f"{stranger.name}/{'f' * 32}", 3, bytes(32)), stranger)
    sink._checkpoints[:] = [other, *sink.checkpoints()]
    result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.checkpoints, result.foreign) == (True, 3, ["sink"])


def test_an_unexpected_log_id_means_the_trail_was_replaced(sink, signer):
    """A trail whose log id is not the expected one is reported as replaced, at record 0; its
    checkpoints, of another log than the expected one, are set aside."""
    expected = "e" * 32
    result = verify(sink, public_key=signer.verifier, log_id=expected)
    assert _problems(result) == [
        (
            0,
            UNANCHORED,
            "no valid checkpoint signed by this key in the sink: the trail is unanchored "
            "(checkpoints deleted?)",
        ),
        (
            0,
            REPLACED,
            f"this trail is log {sink.log_id()}, not the expected log {expected}: the trail was "
            "replaced",
        ),
    ]
    assert (result.checkpoints, result.foreign) == (0, ["sink", "sink", "sink"])


def test_a_checkpoint_of_size_zero(signer):
    """A signed checkpoint of the empty log (the empty root) verifies beside later ones."""
    sink = MemorySink()
    log = AuditLog(sink, signer=signer, checkpoint_every=EVERY, checkpoint_interval=3600)
    log.checkpoint()
    for i in range(EVERY):
        log.append([body(i)])
    log.close()
    assert [open_checkpoint(n)[0].size for n in sink.checkpoints()] == [0, EVERY]
    result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.checkpoints, result.problems) == (True, 2, [])


def test_a_checkpoint_of_size_zero_with_another_root_is_a_fork(signer):
    """A signed size-0 checkpoint whose root is not the empty root conflicts with later ones."""
    sink = MemorySink()
    log = AuditLog(sink, signer=signer, checkpoint_every=EVERY, checkpoint_interval=3600)
    for i in range(EVERY):
        log.append([body(i)])
    log.close()
    origin = _origin(sink)
    sink._checkpoints.append(sign_checkpoint(Checkpoint(origin, 0, bytes(32)), signer))
    assert bytes(32) != EMPTY_ROOT
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (
            0,
            FORK,
            "the signed checkpoint for size 0 (sink) is not consistent with the signed "
            f"checkpoint for size {EVERY}, which matches the log: fork",
        )
    ]


def test_two_checkpoints_for_one_size_disagree(sink, signer):
    """Two signed checkpoints for the same size with different roots are a fork, reported from
    the last checkpoint that matches the log."""
    sink._checkpoints.append(sign_checkpoint(Checkpoint(_origin(sink), 8, bytes(32)), signer))
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (4, FORK, "two signed checkpoints for size 8 disagree (sink, sink): fork"),
        (
            4,
            FORK,
            "the signed checkpoint for size 8 (sink) is not consistent with the signed "
            "checkpoint for size 12, which matches the log: fork",
        ),
    ]
    assert result.summary() == (
        "FAIL: record #4: two signed checkpoints for size 8 disagree (sink, sink): fork "
        "(and 1 follow-on failure caused by it)"
    )


def test_a_rewritten_tail_is_reported_from_the_last_matching_checkpoint(sink, signer):
    """Records rewritten after the last checkpoint but one fail the last checkpoint, reported from
    the checkpoint before it."""
    records = sink._records
    for i in range(9, N):
        record = json.loads(records[i].canonical)
        record["tool_name"] = "tampered"
        records[i] = records[i]._replace(canonical=json.dumps(record).encode())
    _reseal(sink, 9)
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (
            8,
            REWRITTEN,
            "records #8..#11 do not match the signed checkpoint for size 12 (sink): chain rewritten",
        )
    ]


def _reseal(sink, start):
    """Recompute entry hashes and links from ``start`` on, as an attacker rewriting the chain."""
    from opentelemetry_instrumentation_toolaudit.ledger._chain import leaf_hash

    records = sink._records
    for i in range(start, len(records)):
        prev = records[i - 1].entry_hash if i else records[i].prev_hash
        records[i] = StoredRecord(
            records[i].seq, records[i].canonical, leaf_hash(records[i].canonical).hex(), prev
        )


def test_the_widest_checkpoint_past_the_end_is_named(sink, signer):
    """A truncated tail names the checkpoint covering the most records beyond the end."""
    del sink._records[6:]
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (
            6,
            TRUNCATED,
            "the log ends after 6 records but a signed checkpoint (sink) covers 12: truncated tail",
        )
    ]
    assert result.checkpoints == 1


def test_no_checkpoint_signed_by_the_key(sink):
    """With a key and no checkpoint it signed, the trail is unanchored (checkpoints deleted?)."""
    other = NoteSigner.generate("test.example/audit")
    sink._checkpoints.clear()
    result = verify(sink, public_key=other.verifier)
    assert _problems(result) == [
        (
            0,
            UNANCHORED,
            "no valid checkpoint signed by this key in the sink: the trail is unanchored "
            "(checkpoints deleted?)",
        )
    ]
    assert (result.anchored, result.first_bad_seq) == (False, 0)
    assert result.summary() == (
        "FAIL: record #0: no valid checkpoint signed by this key in the sink: the trail is "
        "unanchored (checkpoints deleted?)"
    )


def test_no_checkpoint_in_the_sink_or_directory(sink, tmp_path):
    """With a checkpoint directory and no checkpoint anywhere, the message names the directory."""
    sink._checkpoints.clear()
    result = verify(sink, checkpoint_dir=tmp_path)
    assert _problems(result) == [
        (
            0,
            UNANCHORED,
            f"no valid checkpoint of this log in the sink or {tmp_path}: the trail is unanchored "
            "(checkpoints deleted?)",
        )
    ]


def test_an_unreadable_checkpoint_file_is_one_problem(sink, signer, tmp_path):
    """A checkpoint file that cannot be read is a problem naming it; the sink's checkpoints are
    still read."""
    (tmp_path / "000000000001-x.checkpoint").mkdir()
    result = verify(sink, public_key=signer.verifier, checkpoint_dir=tmp_path)
    assert _problems(result) == [
        (0, CHECKPOINT, f"checkpoint {tmp_path}/000000000001-x.checkpoint cannot be read")
    ]
    assert (result.checkpoints, result.anchored) == (3, True)


def test_a_public_key_as_text_or_as_a_list(sink, signer, tmp_path):
    """The public key may be given as its text, a file holding it, or a list of verifiers."""
    key_file = tmp_path / "k.pub"
    key_file.write_text(signer.verifier.vkey())
    stranger = NoteSigner.generate("stranger.example/audit")
    for key in (
        signer.verifier.vkey(),
        os.fspath(key_file),
        [stranger.verifier, signer.verifier],
    ):
        result = verify(sink, public_key=key)
        assert (result.ok, result.signatures_checked, result.checkpoints) == (True, True, 3)


def test_problems_are_capped(signer):
    """Past MAX_PROBLEMS problems, the rest are not listed; the summary counts the listed ones."""
    sink = MemorySink()
    log = AuditLog(sink, signer=signer, checkpoint_interval=3600)
    log.append([body(i) for i in range(MAX_PROBLEMS + 20)])
    log.close()
    records = sink._records
    for i, record in enumerate(records):
        records[i] = record._replace(canonical=record.canonical + b" ")
    result = verify(sink, public_key=signer.verifier)
    assert len(result.problems) == MAX_PROBLEMS
    assert result.problems[:2] == [
        Problem(0, MODIFIED, "its bytes do not match its entry hash: modified record"),
        Problem(1, MODIFIED, "its bytes do not match its entry hash: modified record"),
    ]
    assert result.summary() == (
        f"FAIL: record #0: its bytes do not match its entry hash: modified record "
        f"(and {MAX_PROBLEMS - 1} more problems)"
    )


@pytest.mark.parametrize("as_stored", [bytes.decode, bytearray, memoryview])
def test_a_stored_value_of_the_wrong_type_is_a_modified_record(sink, signer, as_stored):
    """A record whose stored bytes come back as another type (a hand-edited row) is a modified
    record, and the root is still computed over the bytes it holds."""
    root = verify(sink).root
    sink._records[3] = sink._records[3]._replace(canonical=as_stored(sink._records[3].canonical))
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result)[0] == (
        3,
        MODIFIED,
        "its bytes do not match its entry hash: modified record",
    )
    assert result.root == root


def test_a_stored_text_that_is_not_unicode_is_a_modified_record(sink, signer):
    """Stored text holding a lone surrogate (no UTF-8 form) is a modified record, not a crash."""
    record = sink._records[3]
    sink._records[3] = record._replace(canonical=record.canonical.decode() + "\udc80")
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result)[0] == (
        3,
        MODIFIED,
        "its bytes do not match its entry hash: modified record",
    )


def test_a_broken_link_alone(sink, signer):
    """A record whose prev_hash is not its predecessor's hash is a broken link at that record."""
    sink._records[5] = sink._records[5]._replace(prev_hash="00" * 32)
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result) == [
        (
            5,
            LINK,
            "its prev_hash is not the hash of the record before it: a record was deleted, "
            "inserted or reordered before #5",
        )
    ]


def test_records_out_of_order_are_reordered_not_deleted(sink, signer):
    """Sequence numbers that jump ahead and then fall back are records out of order: the first is
    reported as reordered, not as a deletion."""
    records = sink._records
    records[2], records[3] = records[3], records[2]
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result)[0] == (
        2,
        INSERTED,
        "the record stored at position 2 is #3: records reordered",
    )
    assert (
        3,
        INSERTED,
        "the record stored at position 3 says it is #2: inserted or reordered",
    ) in (_problems(result))
    assert DELETED not in {p.kind for p in result.problems}


def test_a_modified_record_inside_a_checkpoint_is_reported_once(sink, signer):
    """A modified record explains the checkpoints it breaks: no rewritten chain is reported
    besides it, whether it is the first or the last record the checkpoint adds."""
    for k in (8, 11):
        record = sink._records[k]
        sink._records[k] = record._replace(canonical=record.canonical.replace(b"{", b"{ ", 1))
        result = verify(sink, public_key=signer.verifier)
        assert _problems(result) == [
            (k, MODIFIED, "its bytes do not match its entry hash: modified record")
        ]
        sink._records[k] = record


def test_a_torn_write_is_reported_not_failed(tmp_path, signer):
    """A torn final write found on opening is listed in repairs and named in the OK line."""
    url = f"jsonl:///{tmp_path}/audit.jsonl"
    write_log(url, signer, 3)
    with open(tmp_path / "audit.jsonl", "ab") as f:
        f.write(b'{"partial')
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.repairs) == (
        True,
        ["a torn final write is present and not yet repaired (the next writer repairs it)"],
    )
    assert result.summary().endswith("; torn writes: 1, see repairs)")
    assert result.to_json()["repairs"] == result.repairs


def test_a_deleted_record_is_named_with_the_next_one_stored(sink, signer):
    """A record missing from the middle is reported at its number, naming the next stored one."""
    del sink._records[5]
    result = verify(sink, public_key=signer.verifier)
    assert _problems(result)[0] == (
        5,
        DELETED,
        "record #5 is missing (the next stored record is #6): deleted",
    )


def test_a_checkpoint_past_the_end_listed_first(sink, signer):
    """A checkpoint beyond a truncated log, listed before the others, does not stop them being
    compared."""
    sink._checkpoints.reverse()
    del sink._records[6:]
    result = verify(sink, public_key=signer.verifier)
    assert ([p.kind for p in result.problems], result.checkpoints) == ([TRUNCATED], 1)


def test_a_trail_without_a_log_id(sink, signer):
    """A sink that has no log id: the OK line names none, and an expected id makes it replaced."""
    sink._log_id = None
    result = verify(sink)
    assert result.summary() == (
        f"OK: {N} records, root {result.root} (3 checkpoints; unanchored: no public key given, "
        "signatures not checked)"
    )
    expected = "e" * 32
    replaced = verify(sink, log_id=expected)
    assert replaced.problems[-1] == Problem(
        0,
        REPLACED,
        f"this trail is log (no id), not the expected log {expected}: the trail was replaced",
    )


def test_a_checkpoint_whose_origin_is_only_a_log_id(sink, signer):
    """A trusted checkpoint whose origin is another log's id alone (no name before it) is named."""
    other_id = "f" * 32
    sink._checkpoints.append(sign_checkpoint(Checkpoint(other_id, 3, bytes(32)), signer))
    result = verify(sink, public_key=signer.verifier)
    assert [(p.kind, p.message.split(",")[0]) for p in result.problems] == [
        (REPLACED, f"checkpoint sink (size 3) is of log {other_id}")
    ]


def test_failed_result_as_json(sink, signer):
    """A failed result's JSON lists each problem with its record, kind, message and cause."""
    sink._records[2] = sink._records[2]._replace(prev_hash="00" * 32)
    result = verify(sink, public_key=signer.verifier)
    data = result.to_json()
    assert (data["ok"], data["first_bad_seq"], data["problems"]) == (
        False,
        2,
        [
            {
                "seq": 2,
                "kind": LINK,
                "message": "its prev_hash is not the hash of the record before it: a record was "
                "deleted, inserted or reordered before #2",
                "cause": None,
            }
        ],
    )


def test_a_sink_that_fails_to_check_its_columns(sink, signer):
    """When the sink's column check fails, verify raises that error on the caller's thread."""

    class Failing(MemorySink):
        def column_problems(self):
            raise SinkError("the column check failed")

    failing = Failing()
    failing._records, failing._checkpoints = sink._records, sink._checkpoints
    with pytest.raises(SinkError, match=r"^the column check failed$"):
        verify(failing, public_key=signer.verifier)
