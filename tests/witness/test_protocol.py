# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The witness answers every add-checkpoint case as c2sp.org/tlog-witness says."""

from __future__ import annotations

import base64

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import Checkpoint, NoteSigner
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import sign_checkpoint
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    consistency_proof,
    hash_leaf,
    root_from_leaf_hashes,
    subtree_from_leaves,
)
from opentelemetry_instrumentation_toolaudit.witness import (
    Cosigner,
    LogKey,
    Witness,
    WitnessState,
    cosignatures,
)
from opentelemetry_instrumentation_toolaudit.witness._cosign import add_signature_lines

ORIGIN = "test.example/audit/0123456789abcdef0123456789abcdef"
LEAVES = [hash_leaf(f"record {i}".encode()) for i in range(40)]


@pytest.fixture
def log() -> NoteSigner:
    return NoteSigner.generate("test.example/audit")


@pytest.fixture
def witness(tmp_path, log):
    state = WitnessState(tmp_path / "state")
    try:
        yield Witness(Cosigner.generate("witness.test/w1"), [LogKey(log.verifier)], state)
    finally:
        state.close()


def note(signer: NoteSigner, size: int, leaves=LEAVES, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, root_from_leaf_hashes(leaves[:size])), signer)


def request(old: int, new_note: str, new: int, leaves=LEAVES) -> bytes:
    proof = consistency_proof(old, new, subtree_from_leaves(leaves)) if old else []
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{new_note}".encode()


def test_first_checkpoint_is_cosigned_with_a_valid_timestamped_cosignature(witness, log):
    """old 0 for a new origin: 200 and one cosignature/v1 line that verifies over the note."""
    first = note(log, 10)
    answer = witness.add_checkpoint(request(0, first, 10))
    assert (answer.status, answer.body.count("\n")) == (200, 1)
    (found,) = cosignatures(add_signature_lines(first, [answer.body]), [witness.cosigner.verifier])
    assert found.name == "witness.test/w1"


def test_consistent_growth_is_cosigned(witness, log):
    """A checkpoint proven consistent with the last one cosigned is cosigned and remembered."""
    assert witness.add_checkpoint(request(0, note(log, 10), 10)).status == 200
    assert witness.add_checkpoint(request(10, note(log, 33), 33)).status == 200
    assert witness.state.get(ORIGIN).size == 33


def test_stale_old_size_gets_409_with_the_latest_size(witness, log):
    """An old size other than the last cosigned one: 409, text/x.tlog.size, that size."""
    witness.add_checkpoint(request(0, note(log, 10), 10))
    answer = witness.add_checkpoint(request(5, note(log, 20), 20))
    assert (answer.status, answer.content_type, answer.body) == (409, "text/x.tlog.size", "10\n")


def test_same_size_with_another_root_is_refused(witness, log):
    """The size it cosigned, with a different root (a fork): 409, the note kept as evidence."""
    witness.add_checkpoint(request(0, note(log, 10), 10))
    forked = [hash_leaf(b"forged"), *LEAVES[1:]]
    forged = note(log, 10, forked)
    answer = witness.add_checkpoint(request(10, forged, 10, forked))
    assert (answer.status, answer.body) == (409, "10\n")
    assert [p.read_text() for p in (witness.state.directory / "evidence").iterdir()] == [forged]


def test_inconsistent_history_gets_422(witness, log):
    """A longer tree whose proof does not lead from the cosigned root: 422, the note kept as evidence."""
    witness.add_checkpoint(request(0, note(log, 10), 10))
    forked = [hash_leaf(b"forged"), *LEAVES[1:]]
    forged = note(log, 20, forked)
    assert witness.add_checkpoint(request(10, forged, 20, forked)).status == 422
    assert witness.state.get(ORIGIN).size == 10
    assert [p.read_text() for p in (witness.state.directory / "evidence").iterdir()] == [forged]


def test_proof_from_size_zero_must_be_empty(witness, log):
    """old 0 with proof lines: 422."""
    body = request(0, note(log, 10), 10).replace(b"old 0\n", b"old 0\n" + b"A" * 43 + b"=\n")
    assert witness.add_checkpoint(body).status == 422


def test_old_size_beyond_the_checkpoint_gets_400(witness, log):
    """old > checkpoint size: 400."""
    assert (
        witness.add_checkpoint(request(0, note(log, 10), 10).replace(b"old 0", b"old 11")).status
        == 400
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\n",
        b"old x\n\n",
        b"\xff\xfe",
        b"old 0\nnot base64!\n\nx\n",
        b"old 0\n" + b"AAAA\n" * 64 + b"\n",
    ],
)
def test_malformed_requests_get_400(witness, body):
    """A body that is not old-line, proof lines, blank line, checkpoint: 400."""
    assert witness.add_checkpoint(body).status == 400


def test_unknown_origin_gets_404(witness, log):
    """A checkpoint of an origin the witness has no key for: 404."""
    other = NoteSigner.generate("other.example/log")
    assert (
        witness.add_checkpoint(request(0, note(other, 10, origin="other.example/log"), 10)).status
        == 404
    )


def test_bad_log_signature_gets_403(witness, log):
    """An origin it knows, signed by another key of the same name: 403."""
    impostor = NoteSigner.generate("test.example/audit")
    assert witness.add_checkpoint(request(0, note(impostor, 10), 10)).status == 403


def test_pinned_origin_refuses_other_logs_of_the_same_key(tmp_path, log):
    """With ORIGIN=VKEY the witness cosigns only that origin: a new log under the key gets 404."""
    state = WitnessState(tmp_path / "pinned")
    try:
        pinned = Witness(
            Cosigner.generate("witness.test/w2"),
            [LogKey.parse(f"{ORIGIN}={log.verifier.vkey()}")],
            state,
        )
        assert pinned.add_checkpoint(request(0, note(log, 10), 10)).status == 200
        fresh = "test.example/audit/ffffffffffffffffffffffffffffffff"
        assert pinned.add_checkpoint(request(0, note(log, 10, origin=fresh), 10)).status == 404
    finally:
        state.close()


def test_a_second_witness_cannot_share_the_state_directory(tmp_path):
    """The state directory is locked by the witness using it."""
    from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError

    first = WitnessState(tmp_path / "state")
    try:
        with pytest.raises(ToolAuditError, match="in use by another witness"):
            WitnessState(tmp_path / "state")
    finally:
        first.close()


def test_witness_url_credentials_become_basic_authentication():
    """A user and password in a witness URL go in an Authorization header, not in the URL."""
    from opentelemetry_instrumentation_toolaudit.witness import parse_witnesses

    vkey = Cosigner.generate("witness.test/w1").verifier.vkey()
    (endpoint,) = parse_witnesses(f"https://auditor:p%40ss@witness.test:8443/tw={vkey}")
    request = endpoint.request(b"old 0\n\n")
    assert request.full_url == "https://witness.test:8443/tw/add-checkpoint"
    assert (
        request.get_header("Authorization") == "Basic " + base64.b64encode(b"auditor:p@ss").decode()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("witness.test=abc", "item 1 is not URL=VKEY"),
        ("http://a.test=not-a-key", "item 1: malformed witness key"),
    ],
)
def test_malformed_witness_list_names_the_item(value, message):
    """OTEL_PYTHON_TOOLAUDIT_WITNESSES with a bad item: an error naming the item, not its URL."""
    from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
    from opentelemetry_instrumentation_toolaudit.witness import parse_witnesses

    with pytest.raises(ToolAuditError, match=message):
        parse_witnesses(value)


def test_log_key_is_not_a_witness_key():
    """A log's signed-note key (algorithm 0x01) is refused where a cosigner key (0x04) is needed."""
    from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
    from opentelemetry_instrumentation_toolaudit.witness import CosignerVerifier

    with pytest.raises(VerificationError, match="not an Ed25519 cosignature/v1 key"):
        CosignerVerifier.from_vkey(NoteSigner.generate("test.example/audit").verifier.vkey())
