# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every tamper kind, in randomized trials on every sink: verify names the first bad record and why,
lists every problem, and tells the follow-on failures (with their cause) from problems of their own."""

from __future__ import annotations

import json
import random

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    Checkpoint,
    NoteSigner,
    open_sink,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import root_from_leaf_hashes
from opentelemetry_instrumentation_toolaudit.ledger._problems import (
    COLUMN,
    DELETED,
    FORK,
    HEAD,
    INSERTED,
    LINK,
    MODIFIED,
    PAYLOAD,
    REWRITTEN,
    SIGNATURE,
    TRUNCATED,
    UNANCHORED,
)

from ._tamper import forge, read_checkpoints, read_rows, reseal_from, write_checkpoints, write_rows
from .conftest import body, write_log

N = 23
EVERY = 5
TRIALS = (11, 29)


def listed(result):
    """Every problem as (record, kind, cause), in the order verify reports them."""
    return [(p.seq, p.kind, p.cause) for p in result.problems]


def has_columns(url):
    return not url.startswith("jsonl")


def failures(n):
    return f"{n} follow-on failure{'' if n == 1 else 's'}"


def _verify(url, signer, tmp_path):
    with open_sink(url, create=False) as sink:
        return verify(sink, public_key=signer.verifier, checkpoint_dir=tmp_path / "cps")


@pytest.fixture
def trail(sink_url, signer, tmp_path):
    write_log(sink_url, signer, N, every=EVERY, checkpoint_dir=tmp_path / "cps")
    return sink_url


def test_untouched_trail_verifies(trail, signer, tmp_path):
    """An untouched trail verifies on every sink, against the sink's and the directory's checkpoints."""
    result = _verify(trail, signer, tmp_path)
    assert (
        result.ok,
        result.size,
        result.problems,
        result.signatures_checked,
    ) == (True, N, [], True)
    assert result.checkpoints >= 2 * (N // EVERY)
    assert result.summary().startswith(f"OK: {N} records, root {result.root}")


@pytest.mark.parametrize("seed", TRIALS)
def test_modified_record(trail, signer, tmp_path, seed):
    """Changing a record's bytes (hash left as it was) is reported at that record as modified."""
    k = random.Random(seed).randrange(N)
    rows = read_rows(trail)
    record = json.loads(rows[k]["canonical"])
    record["tool_name"] = "tampered"
    rows[k]["canonical"] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    write_rows(trail, rows)
    result = _verify(trail, signer, tmp_path)
    first = f"FAIL: record #{k}: its bytes do not match its entry hash: modified record"
    if has_columns(trail):
        # The tool_name column still says what the bytes said: a follow-on of the modification.
        # The tool_name column still says what the bytes said, and the stored head was built
        # from the hashes as they were: follow-ons of the modification.
        assert listed(result) == [(k, MODIFIED, None), (k, COLUMN, k), (N, HEAD, k)]
        assert result.problems[1].message == (
            "the tool_name column does not match the record's canonical bytes (edited column)"
        )
        assert result.summary() == f"{first} (and 2 follow-on failures caused by it)"
    else:
        assert listed(result) == [(k, MODIFIED, None), (N, HEAD, k)]
        assert result.summary() == f"{first} (and 1 follow-on failure caused by it)"


@pytest.mark.parametrize("seed", TRIALS)
def test_deleted_record(trail, signer, tmp_path, seed):
    """Removing a record from the middle is reported at the missing sequence number."""
    k = random.Random(seed).randrange(N - 1)
    rows = read_rows(trail)
    del rows[k]
    write_rows(trail, rows)
    result = _verify(trail, signer, tmp_path)
    # The next record no longer links, and the log holds one record fewer than its checkpoints:
    # both only because of the deletion. No record after it is reported missing.
    assert listed(result) == [(k, DELETED, None), (k, LINK, k), (N - 1, TRUNCATED, k)]
    assert result.summary() == (
        f"FAIL: record #{k}: record #{k} is missing (the next stored record is #{k + 1}): deleted "
        "(and 2 follow-on failures caused by it)"
    )
    assert result.problems[2].message.endswith(f"covers {N}: records are missing")
    assert result.follow_ons == 2


def test_deleted_records_in_a_row(trail, signer, tmp_path):
    """Several records deleted in a row are one problem naming the whole range."""
    rows = read_rows(trail)
    del rows[7:11]
    write_rows(trail, rows)
    result = _verify(trail, signer, tmp_path)
    assert listed(result) == [(7, DELETED, None), (7, LINK, 7), (N - 4, TRUNCATED, 7)]
    assert result.summary() == (
        "FAIL: record #7: records #7..#10 are missing (the next stored record is #11): deleted "
        "(and 2 follow-on failures caused by it)"
    )


def test_two_deletions_and_a_modification(trail, signer, tmp_path):
    """Two deleted records and a modified one after them: each is reported at its own record
    number (not its shifted position), and each deletion's follow-on failures name it."""
    rows = read_rows(trail)
    record = json.loads(rows[15]["canonical"])
    record["user_id"] = "usr_someone_else"
    rows[15]["canonical"] = json.dumps(record).encode()
    del rows[10]
    del rows[4]
    write_rows(trail, rows)
    result = _verify(trail, signer, tmp_path)
    assert listed(result) == [
        (4, DELETED, None),
        (4, LINK, 4),
        (10, DELETED, None),
        (10, LINK, 10),
        (15, MODIFIED, None),
        *([(15, COLUMN, 15)] if has_columns(trail) else []),
        (N - 2, TRUNCATED, 4),
        # The head stored for the edited rows does not fit the modified record's bytes.
        (N - 2, HEAD, 4),
    ]
    assert result.problems[2].message == (
        "record #10 is missing (the next stored record is #11): deleted"
    )
    follow_ons = 5 if has_columns(trail) else 4
    assert result.summary() == (
        "FAIL: record #4: record #4 is missing (the next stored record is #5): deleted "
        f"(and 2 more problems and {follow_ons} follow-on failures caused by them)"
    )


@pytest.mark.parametrize("seed", TRIALS)
def test_inserted_record(trail, signer, tmp_path, seed):
    """A forged record, hashed and linked to its predecessor, is caught at the record it displaced."""
    k = random.Random(seed).randrange(1, N)
    rows = read_rows(trail)
    forged = forge(body(999, tool_name="issue_refund"), k, rows[k - 1]["entry_hash"].hex())
    shifted = [{**r, "seq": r["seq"] + 1} for r in rows[k:]]
    write_rows(trail, [*rows[:k], forged, *shifted])
    result = _verify(trail, signer, tmp_path)
    if has_columns(trail):
        # Every record after the forged one is a place off: one follow-on failure each.
        assert listed(result) == [
            (k + 1, INSERTED, None),
            (k + 1, LINK, k + 1),
            *[(s, INSERTED, k + 1) for s in range(k + 2, N + 1)],
        ]
        first = f"the record's seq field says {k} (inserted or reordered record)"
    else:
        # The forged record names seq k, so its payload took the place of the displaced one's.
        assert listed(result) == [
            (k + 1, INSERTED, None),
            (k + 1, LINK, k + 1),
            (k + 1, PAYLOAD, k + 1),
        ]
        first = f"the record stored at position {k + 1} says it is #{k}: inserted or reordered"
    assert result.summary() == (
        f"FAIL: record #{k + 1}: {first} (and {failures(len(result.problems) - 1)} caused by it)"
    )


@pytest.mark.parametrize(
    "pair",
    [
        *(tuple(sorted(random.Random(seed).sample(range(N), 2))) for seed in TRIALS),
        (5, 6),
        (N - 2, N - 1),
    ],
)
def test_reordered_records(trail, signer, tmp_path, pair):
    """Swapping two records is reported at both of them (one problem when they are adjacent), the
    links broken around them as follow-on failures."""
    i, j = pair
    rows = read_rows(trail)
    a, b = rows[i], rows[j]
    rows[i] = {**b, "seq": a["seq"]}
    rows[j] = {**a, "seq": b["seq"]}
    write_rows(trail, rows)
    result = _verify(trail, signer, tmp_path)
    after_j = [(j + 1, LINK, i if j == i + 1 else j)] if j + 1 < N else []
    if j == i + 1:
        expected = [(i, INSERTED, None), (i, LINK, i), (j, INSERTED, i), (j, LINK, i), *after_j]
    else:
        expected = [
            (i, INSERTED, None),
            (i, LINK, i),
            (i + 1, LINK, i),
            (j, INSERTED, None),
            (j, LINK, j),
            *after_j,
        ]
    assert listed(result) == expected
    if has_columns(trail):
        first = f"the record's seq field says {j} (inserted or reordered record)"
    else:
        first = f"the record stored at position {i} is #{j}: records reordered"
    follow_ons = len(expected) - (1 if j == i + 1 else 2)
    counts = (
        f"{failures(follow_ons)} caused by it"
        if j == i + 1
        else f"1 more problem and {failures(follow_ons)} caused by them"
    )
    assert result.summary() == f"FAIL: record #{i}: {first} (and {counts})"


@pytest.mark.parametrize("seed", TRIALS)
def test_truncated_tail(trail, signer, tmp_path, seed):
    """Cutting the tail (and the sink's checkpoints that cover it) is caught by the checkpoint directory."""
    k = random.Random(seed).randrange(1, N)
    write_rows(trail, read_rows(trail)[:k])
    write_checkpoints(
        trail, [n for n in read_checkpoints(trail) if open_checkpoint(n)[0].size <= k]
    )
    result = _verify(trail, signer, tmp_path)
    assert listed(result) == [(k, TRUNCATED, None)]
    summary = result.summary()
    assert summary.startswith(
        f"FAIL: record #{k}: the log ends after {k} records but a signed checkpoint ({tmp_path / 'cps'}/"
    )
    assert summary.endswith(f") covers {N}: truncated tail")


@pytest.mark.parametrize("seed", TRIALS)
def test_rewritten_chain(trail, signer, tmp_path, seed):
    """A consistent rewrite from record k on (hashes and links recomputed) fails the signed checkpoints,
    reported from the last checkpoint that still matches."""
    k = random.Random(seed).randrange(N)
    rows = read_rows(trail)
    record = json.loads(rows[k]["canonical"])
    record["user_id"] = "usr_someone_else"
    rows[k]["canonical"] = json.dumps(record).encode()
    write_rows(trail, reseal_from(rows, k))
    result = _verify(trail, signer, tmp_path)
    start = k // EVERY * EVERY
    # Each checkpoint past the rewrite fails, in the sink and in the directory; the first is the
    # problem, the wider ones and the directory's copies follow from it.
    failing = [size for size in (*range(EVERY, N, EVERY), N) if size > k]
    assert listed(result) == [
        (start, REWRITTEN, None),
        *[(start, REWRITTEN, start)] * (2 * len(failing) - 1),
    ]
    assert result.summary() == (
        f"FAIL: record #{start}: records #{start}..#{failing[0] - 1} do not match the signed "
        f"checkpoint for size {failing[0]} (sink): chain rewritten "
        f"(and {failures(2 * len(failing) - 1)} caused by it)"
    )


@pytest.mark.parametrize("seed", TRIALS)
def test_rewritten_and_resigned_chain(trail, signer, tmp_path, seed):
    """A rewrite whose checkpoints are re-signed with the attacker's key fails signature verification."""
    k = random.Random(seed).randrange(N)
    rows = read_rows(trail)
    record = json.loads(rows[k]["canonical"])
    record["success"] = not record["success"]
    rows[k]["canonical"] = json.dumps(record).encode()
    rows = reseal_from(rows, k)
    write_rows(trail, rows)
    attacker = NoteSigner.generate(signer.name)
    leaves = [r["entry_hash"] for r in rows]
    notes = []
    for note in read_checkpoints(trail):
        cp = open_checkpoint(note)[0]
        notes.append(
            sign_checkpoint(
                Checkpoint(cp.origin, cp.size, root_from_leaf_hashes(leaves[: cp.size])), attacker
            )
        )
    write_checkpoints(trail, notes)
    with open_sink(trail, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    # Every checkpoint fails its signature (each one a problem); that none is left to anchor the
    # trail follows from them.
    sizes = (*range(EVERY, N, EVERY), N)
    assert listed(result) == [*[(0, SIGNATURE, None)] * len(sizes), (0, UNANCHORED, 0)]
    assert [p.message.split(" (")[0] for p in result.problems[:-1]] == [
        f"checkpoint for size {size}" for size in sizes
    ]
    summary = result.summary()
    assert summary.startswith(
        "FAIL: record #0: checkpoint for size 5 (sink) is not signed by the given key"
    )
    assert summary.endswith(
        f"(and {len(sizes) - 1} more problems and 1 follow-on failure caused by them)"
    )


@pytest.mark.parametrize("seed", TRIALS)
def test_forked_checkpoint(trail, signer, tmp_path, seed):
    """A second signed checkpoint for a size, with another root, is reported as a fork."""
    s = random.Random(seed).choice(range(EVERY, N, EVERY))
    bogus = sign_checkpoint(Checkpoint(signer.name, s, bytes(32)), signer)
    write_checkpoints(trail, [*read_checkpoints(trail), bogus])
    result = _verify(trail, signer, tmp_path)
    assert listed(result) == [(s - EVERY, FORK, None), (s - EVERY, FORK, s - EVERY)]
    assert result.summary() == (
        f"FAIL: record #{s - EVERY}: two signed checkpoints for size {s} disagree (sink, sink): "
        "fork (and 1 follow-on failure caused by it)"
    )
    assert result.problems[1].message == (
        f"the signed checkpoint for size {s} (sink) is not consistent with the signed checkpoint "
        f"for size {s + EVERY if s + EVERY < N else N}, which matches the log: fork"
    )


@pytest.mark.parametrize("seed", TRIALS)
def test_edited_column(sink_url, signer, tmp_path, seed):
    """Editing an indexed column (hiding a record from queries) is reported at that record."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink has no columns")
    write_log(sink_url, signer, N, every=EVERY, checkpoint_dir=tmp_path / "cps")
    rng = random.Random(seed)
    k = rng.randrange(N)
    column = rng.choice(["user_id", "tool_name", "conversation_id", "success"])
    rows = read_rows(sink_url)
    rows[k]["columns"][column] = None if column == "success" else "someone_else"
    write_rows(sink_url, rows)
    result = _verify(sink_url, signer, tmp_path)
    assert listed(result) == [(k, COLUMN, None)]
    assert result.summary() == (
        f"FAIL: record #{k}: the {column} column does not match the record's canonical bytes "
        "(edited column)"
    )


@pytest.mark.parametrize(
    ("value", "disguise"),
    [
        (1e21, "1000000000000000000000"),  # the number as PostgreSQL's jsonb prints it
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),  # the object as jsonb prints it
        (1e-7, "1e-7"),  # the number as the canonical bytes print it
    ],
)
def test_edited_column_with_non_string_value(sink_url, signer, tmp_path, value, disguise):
    """A column whose record value is not a string, edited to another rendering of that value, is
    reported: only the exact column value (JSON text of the parsed value) is accepted."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink has no columns")
    with AuditLog(open_sink(sink_url), signer=signer, checkpoint_interval=3600) as log:
        log.append([body(0), body(1, user_id=value), body(2)])
    rows = read_rows(sink_url)
    assert disguise != rows[1]["columns"]["user_id"]
    rows[1]["columns"]["user_id"] = disguise
    write_rows(sink_url, rows)
    result = _verify(sink_url, signer, tmp_path)
    assert listed(result) == [(1, COLUMN, None)]
    assert result.summary() == (
        "FAIL: record #1: the user_id column does not match the record's canonical bytes "
        "(edited column)"
    )


@pytest.mark.parametrize("success", ["yes", 1, None])
def test_non_bool_success_is_a_null_column_and_verifies(sink_url, signer, tmp_path, success):
    """A record whose success is not a bool stores NULL in the success column, and verifies."""
    with AuditLog(open_sink(sink_url), signer=signer, checkpoint_dir=tmp_path / "cps") as log:
        log.append([body(0), body(1, success=success), body(2)])
    if not sink_url.startswith("jsonl"):
        assert read_rows(sink_url)[1]["columns"]["success"] is None
    result = _verify(sink_url, signer, tmp_path)
    assert (result.ok, result.problems) == (True, [])


@pytest.mark.parametrize(
    ("success", "column"),
    [
        ("yes", True),  # a string is not a bool, whatever it says
        (1, True),  # nor is a number
        (None, False),  # null is not false
        (True, None),  # true is not NULL
        (True, 2),  # SQLite: any integer but 1 is not true
        (True, "true"),  # SQLite: nor is text
        (False, "no"),  # SQLite: text stays text in an INTEGER column
    ],
)
def test_success_column_is_compared_exactly(sink_url, signer, tmp_path, success, column):
    """The success column must say exactly what the canonical bytes say: 1/0 for true/false in
    SQLite, and NULL for anything that is not a bool."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink has no columns")
    if sink_url.startswith("postgresql") and not isinstance(column, (bool, type(None))):
        pytest.skip("a PostgreSQL boolean column holds only true, false or NULL")
    with AuditLog(open_sink(sink_url), signer=signer, checkpoint_dir=tmp_path / "cps") as log:
        log.append([body(0), body(1, success=success), body(2)])
    rows = read_rows(sink_url)
    rows[1]["columns"]["success"] = column
    write_rows(sink_url, rows)
    result = _verify(sink_url, signer, tmp_path)
    assert listed(result) == [(1, COLUMN, None)]
    assert result.summary() == (
        "FAIL: record #1: the success column does not match the record's canonical bytes "
        "(edited column)"
    )
