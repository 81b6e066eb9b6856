# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The verifier's scan: one pass over the stored records (hashes, links, sequence numbers, Merkle
roots), and the stored nodes and head judged against what the pass rebuilt. It trusts nothing the
writer stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import NamedTuple

from opentelemetry_instrumentation_toolaudit.ledger._chain import GENESIS_HASH
from opentelemetry_instrumentation_toolaudit.ledger._merkle import EMPTY_ROOT
from opentelemetry_instrumentation_toolaudit.ledger._problems import (
    DELETED,
    HEAD,
    INSERTED,
    LINK,
    MAX_PROBLEMS,
    MODIFIED,
    NODE,
    ORPHAN_PAYLOAD,
    PAYLOAD,
    Problem,
)
from opentelemetry_instrumentation_toolaudit.ledger._prune import Pruning
from opentelemetry_instrumentation_toolaudit.ledger.schema import PAYLOAD_HASH, SCHEMA, SCHEMA_V2
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    NODE_MIN_LEVEL,
    AuditSink,
    StoredHead,
    stored_bytes,
)

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is the optional ``fast`` extra
    _loads = json.loads  # type: ignore[assignment]

_COMMITS = b'"payload_hash":"'
"""In the canonical bytes of every record that commits to a payload (and, unescaped, in no
string value): the records without it are not parsed."""
_PAYLOAD_CHANGED = (
    "its stored payload does not match the payload_hash in its envelope: modified payload"
)

_LEAF = hashlib.sha256(b"\x00")
_NODE = b"\x01"
_sha256 = hashlib.sha256


class Scanned(NamedTuple):
    """What :func:`scan_records` found."""

    size: int
    """The number of records."""
    end: int
    """The sequence number after the last record."""
    roots: dict[int, bytes]
    root: bytes
    problems: list[Problem]
    """Problems of the records themselves (hashes, links, sequence numbers)."""
    heads: dict[int, tuple[bytes, str]]
    payload_problems: list[Problem]
    """Format 2 payloads that do not match their envelope's ``payload_hash``."""
    erased: list[int]
    """Sequence numbers of format 2 records whose payload was erased."""
    joined: int
    """Payloads read beside the records that commit to one."""


def scan_records(
    sink: AuditSink,
    wanted: set[int],
    head: StoredHead | None,
    nodes: dict[tuple[int, int], bytes],
    *,
    rows: Iterable[tuple[int, bytes, bytes, str, bytes | None]] | None = None,
    start: Pruning | None = None,
) -> Scanned:
    """One pass over the records: hashes, links, sequence numbers, the Merkle roots at ``wanted``
    sizes, the frontier and last hash at the stored head's size, the stored ``nodes`` (each
    one rebuilt is compared and removed: those left were never rebuilt), and each format 2
    record's stored payload against its ``payload_hash`` (read with the record). The loop is kept
    flat because it is the verifier's cost per record. ``rows`` are the sink's scan when the
    caller began it; ``start``, a pruning checkpoint the records continue from (its frontier and
    the hash of the last pruned record)."""
    problems: list[Problem] = []
    payload_found: list[Problem] = []
    erased: list[int] = []
    joined = 0
    commits = _COMMITS
    loads = _loads
    sha256 = _sha256
    roots: dict[int, bytes] = {}
    cut = start.cut if start is not None else 0
    first_prev = start.prev_hash if start is not None else GENESIS_HASH
    heads: dict[int, tuple[bytes, str]] = {
        cut: (b"".join(start.frontier) if start else b"", first_prev)
    }
    head_size = head.size if head is not None else -1
    wanted = wanted | {head_size}
    if cut in wanted:
        roots[cut] = start.root if start is not None else EMPTY_ROOT
    # A stored node completes on a leaf whose position ends in NODE_MIN_LEVEL one bits.
    node_mask = (1 << NODE_MIN_LEVEL) - 1 if nodes else -1
    hashes: list[bytes] = list(start.frontier) if start is not None else []
    size = cut
    prev = first_prev
    gaps: list[tuple[int, int, int]] = []
    went_back = 0
    # Where sequence numbers stand against positions: after a deleted record every later one is a
    # place ahead, and that is one problem, not one per record.
    offset = 0
    leaf = _LEAF.copy
    sha = _sha256
    node_prefix = _NODE
    for row_seq, canonical, entry_hash, prev_hash, payload in (
        rows if rows is not None else sink.scan()
    ):
        h = leaf()
        if type(canonical) is not bytes or type(entry_hash) is not bytes:
            # Stored values of the wrong type (a damaged or hand-edited row): a modified record.
            canonical, entry_hash = stored_bytes(canonical), b""
        h.update(canonical)
        digest = h.digest()
        # A record's problems are named by the number it should have (its position, shifted by
        # the records missing before it), as the sink's columns name them.
        expected = at = size + offset
        if row_seq != expected and row_seq == size:
            # Back in place after a jump: the jump was a record out of order (see below).
            offset = 0
            at = size
        elif row_seq != expected and len(problems) < MAX_PROBLEMS:
            if row_seq > expected:
                gaps.append((len(problems), size, row_seq))
                missing = (
                    f"record #{expected} is"
                    if row_seq == expected + 1
                    else f"records #{expected}..#{row_seq - 1} are"
                )
                problems.append(
                    Problem(
                        at,
                        DELETED,
                        f"{missing} missing (the next stored record is #{row_seq}): deleted",
                    )
                )
            else:
                # Numbered by its position: falling back shows the jump before was a reordering.
                went_back = went_back or size
                at = size
                problems.append(
                    Problem(
                        at,
                        INSERTED,
                        f"the record stored at position {size} says it is #{row_seq}: inserted or reordered",
                    )
                )
            offset = row_seq - size
        if commits in canonical:
            if payload is not None:
                joined += 1
                stored = payload if type(payload) is bytes else stored_bytes(payload)
                payload_digest = sha256(stored).hexdigest()
                # The usual case, without parsing: the one "payload_hash":"…" in the bytes says
                # this digest. A top-level payload_hash is such an occurrence, so when there is
                # only one it is the record's commitment, and the payload matches it (or the
                # record commits to none and its stored payload is not checked, as below).
                if (
                    canonical.count(commits) == 1
                    and commits + payload_digest.encode() + b'"' in canonical
                ):
                    payload_digest = ""
            else:
                payload_digest = ""
            if payload is None or payload_digest:
                try:
                    record = loads(canonical)
                    committed = record.get(PAYLOAD_HASH)
                except (ValueError, AttributeError, RecursionError):
                    committed = None  # not a JSON object: its hash (or the columns) tell
                if type(committed) is str and record.get(SCHEMA) == SCHEMA_V2:
                    if payload is None:
                        erased.append(at)
                    elif payload_digest != committed and len(payload_found) < MAX_PROBLEMS:
                        payload_found.append(Problem(at, PAYLOAD, _PAYLOAD_CHANGED))
        if digest != entry_hash and len(problems) < MAX_PROBLEMS:
            problems.append(
                Problem(at, MODIFIED, "its bytes do not match its entry hash: modified record")
            )
        if prev_hash != prev and len(problems) < MAX_PROBLEMS:
            problems.append(
                Problem(
                    at,
                    LINK,
                    f"its prev_hash is not the hash of the record before it: a record was deleted, inserted or reordered before #{at}",
                )
            )
        # The link is followed through the stored hash, so one modified record is reported once.
        prev = entry_hash.hex()
        node = digest
        s = size
        if s & node_mask == node_mask:
            level = 0
            while s & 1:
                node = sha(node_prefix + hashes.pop() + node).digest()
                s >>= 1
                level += 1
                key = (level, ((size + 1) >> level) - 1)
                if key in nodes and nodes.pop(key) != node:
                    nodes[key] = b""  # compared, and wrong
        else:
            while s & 1:
                node = sha(node_prefix + hashes.pop() + node).digest()
                s >>= 1
        hashes.append(node)
        size += 1
        if size in wanted:
            roots[size] = fold(hashes)
            if size == head_size:
                heads[size] = (b"".join(hashes), prev)
    end = size + offset
    if went_back:
        # Sequence numbers that jump ahead and later fall back are records out of order, not a deletion.
        for index, position, seq in gaps:
            if position < went_back:
                problems[index] = Problem(
                    position,
                    INSERTED,
                    f"the record stored at position {position} is #{seq}: records reordered",
                )
    return Scanned(size, end, roots, fold(hashes), problems, heads, payload_found, erased, joined)


def orphan_problems(sink: AuditSink, joined: int) -> list[Problem]:
    """The stored payloads that no stored record has (``joined``: how many the scan read beside
    their records): their envelopes were removed."""
    return [
        Problem(
            seq,
            ORPHAN_PAYLOAD,
            f"a payload is stored for record #{seq}, but record #{seq} is missing: its envelope "
            "was removed",
        )
        for seq in sink.orphan_payloads(MAX_PROBLEMS, joined=joined)
    ]


def node_problems(nodes: dict[tuple[int, int], bytes]) -> list[Problem]:
    """The stored Merkle nodes left after the scan: wrong (marked empty), or not in the tree."""
    problems = []
    for (level, index), stored in sorted(nodes.items(), key=lambda item: item[0][1] << item[0][0]):
        first, last = index << level, ((index + 1) << level) - 1
        if stored == b"":
            what = "does not match them: the node was altered (inclusion proofs built from it are wrong)"
        else:
            what = "is not a node of the tree of the stored records: the node was forged, or records were deleted"
        problems.append(
            Problem(first, NODE, f"the stored Merkle node over records #{first}..#{last} {what}")
        )
    return problems[:MAX_PROBLEMS]


def head_problems(
    sink: AuditSink, head: StoredHead | None, heads: dict[int, tuple[bytes, str]], size: int
) -> list[Problem]:
    """The stored head against the records: the head of the first ``head.size`` records, and (for
    a sink that writes it with the records) covering every record."""
    if head is None:
        return []
    if head.size > size:
        return [
            Problem(
                size,
                HEAD,
                f"the stored head says the log holds {head.size} records, but it holds {size}: "
                "the head was forged or records were deleted (the next append will fail)",
            )
        ]
    if heads.get(head.size) != (head.frontier, head.prev_hash):
        return [
            Problem(
                head.size,
                HEAD,
                f"the stored head for {head.size} records is not the head of those records: "
                "the head was altered (appends would continue a tree that is not this log's)",
            )
        ]
    latest = sink.stored_head() if sink.head_covers_log else None
    if latest is not None and latest.size < size:
        return [
            Problem(
                latest.size,
                HEAD,
                f"records #{latest.size}..#{size - 1} are past the stored head (size "
                f"{latest.size}): the head was reset or records were added around the sink "
                "(the next append will fail)",
            )
        ]
    return []


def fold(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    node = hashes[-1]
    for left in reversed(hashes[:-1]):
        node = _sha256(_NODE + left + node).digest()
    return node


__all__ = ["Scanned", "fold", "head_problems", "node_problems", "orphan_problems", "scan_records"]
