# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Archives: a prefix of a trail, written whole before payloads are removed, verifiable alone.

An archive is a directory ``toolaudit-archive-<log id>-0-<n-1>`` holding

* ``records.jsonl.gz``: records ``0 .. n-1``, one JSON object a line: ``seq``, ``canonical`` (the
  chained record, as stored), ``entry_hash`` and ``payload`` (the stored payload, or null when it had already been
  removed);
* ``checkpoints.json``: every signed checkpoint of the trail over at most ``n`` records (a list of
  notes), the last of them over exactly ``n``;
* ``manifest.json``: the archive format, the log id, ``n``, the records the run expired, when and
  from which sink (password masked) it was written.

An archive starts at record 0, or (for a trail pruned before) at the cut of a pruning
checkpoint it holds, and ends where a signed checkpoint ends, so its Merkle root can be
recomputed from its own records and checked against that signature: ``toolaudit verify
DIR`` (:class:`ArchiveSink` reads it as a read-only store) checks every record, link, payload and
checkpoint, with the same keys as the live trail.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import AuditSink, StoredRecord, TreeHead
from opentelemetry_instrumentation_toolaudit.ledger._chain import leaf_hash
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import readable_checkpoints
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.ledger._prune import prunings
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import ScanRow
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url
from opentelemetry_instrumentation_toolaudit.lifecycle._plan import seq_ranges

ARCHIVE_FORMAT = "toolaudit-archive/1"
MANIFEST = "manifest.json"
RECORDS = "records.jsonl.gz"
CHECKPOINTS = "checkpoints.json"


_PAGE = 5000
"""Records read per query while archiving: memory stays bounded."""


def _line(stored: StoredRecord) -> bytes:
    line = {
        "seq": stored.seq,
        "canonical": stored.canonical.decode("utf-8"),
        "entry_hash": stored.entry_hash,
        "payload": None if stored.payload is None else stored.payload.decode("utf-8"),
    }
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


def signed_end(sink: AuditSink, through_seq: int) -> int | None:
    """The size of the smallest signed checkpoint covering record ``through_seq`` (None: none)."""
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    sizes = [c.size for c, _ in readable if c.size > through_seq]
    return min(sizes) if sizes else None


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an archive directory (it holds a manifest)."""
    return os.path.isfile(os.path.join(path, MANIFEST))


def write_archive(
    sink: AuditSink,
    directory: str | os.PathLike[str],
    size: int,
    *,
    expired: Sequence[int],
    as_of: datetime.date,
    first: int = 0,
    notes: Sequence[str] = (),
) -> Path:
    """Write records ``first .. size-1`` of ``sink`` and its checkpoints up to ``size`` (and
    ``notes``, signed checkpoints not yet stored) as an archive under ``directory``; returns the
    archive's path. ``size`` must be the size of a signed checkpoint (see :func:`signed_end`),
    ``first`` 0 or the cut of a stored pruning checkpoint. Written in a temporary directory,
    renamed when complete; an existing archive of the same records is never overwritten
    (FileExistsError)."""
    target = Path(directory) / archive_name(sink, first, size)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target}: an archive of these records exists already")
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    notes = [note for checkpoint, note in readable if checkpoint.size <= size] + list(notes)
    size -= first  # the number of records written
    work = Path(tempfile.mkdtemp(prefix=".toolaudit-archive-", dir=parent))
    try:
        written = 0
        with gzip.open(work / RECORDS, "wb", compresslevel=6) as out:
            for start in range(first, first + size, _PAGE):
                for stored in sink.read(start, min(start + _PAGE, first + size)):
                    out.write(_line(stored))
                    written += 1
        if written != size:
            raise SinkError(
                f"{redact_url(sink.url)}: holds {written} of the {size} records to archive"
            )
        (work / CHECKPOINTS).write_text(json.dumps(notes, indent=1) + "\n", encoding="utf-8")
        manifest = {
            "format": ARCHIVE_FORMAT,
            "log_id": sink.log_id(),
            "first": first,
            "records": size,
            "expired": seq_ranges(expired),
            "as_of": as_of.isoformat(),
            "written_at": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
            "sink": redact_url(sink.url),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for name in (RECORDS, CHECKPOINTS, MANIFEST):
            with open(work / name, "rb") as file:
                os.fsync(file.fileno())
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def archive_name(sink: AuditSink, first: int, size: int) -> str:
    """The directory name of the archive of records ``first .. size-1``."""
    return f"toolaudit-archive-{sink.log_id() or 'log'}-{first}-{size - 1}"


class ArchiveSink(AuditSink):
    """An archive directory read as a read-only store, for ``verify`` and ``prove``."""

    seals_columns = False
    node_min_level = None
    unique_event_ids = False
    holds_log_end = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        try:
            manifest = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
                raise ValueError("not a toolaudit archive manifest")
            notes = json.loads((self.path / CHECKPOINTS).read_text(encoding="utf-8"))
            if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
                raise ValueError(f"{CHECKPOINTS} is not a list of checkpoint notes")
            self._records = list(self._load(self.path / RECORDS))
        except (OSError, EOFError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SinkError(f"{self.path}: cannot read the archive ({why})") from None
        log_id = manifest.get("log_id")
        self._log_id = log_id if isinstance(log_id, str) else None
        self._notes: list[str] = notes
        self._frontier = Frontier()
        self._first = self._records[0].seq if self._records else 0
        if self._first:  # the archive of a trail pruned before: it starts from that cut
            starts = [p for p in prunings(notes, self._log_id) if p.cut == self._first]
            if not starts:
                raise SinkError(
                    f"{self.path}: the archive starts at record #{self._first} without the "
                    "pruning checkpoint for it"
                )
            self._frontier = starts[0].start()
        for stored in self._records:
            self._frontier.append(leaf_hash(stored.canonical))

    @staticmethod
    def _load(path: Path) -> Iterator[StoredRecord]:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    item = json.loads(line)
                    seq, canonical, payload = item["seq"], item["canonical"], item["payload"]
                    entry_hash = item["entry_hash"]
                    if type(seq) is not int or not isinstance(canonical, str):
                        raise TypeError
                    if not isinstance(entry_hash, str):
                        raise TypeError
                    if payload is not None and not isinstance(payload, str):
                        raise TypeError
                except (ValueError, TypeError, KeyError):
                    raise ValueError(
                        f"line {number} of {RECORDS} is not an archived record"
                    ) from None
                data = canonical.encode("utf-8")
                try:
                    prev = json.loads(data).get("prev_hash")
                except (ValueError, AttributeError):
                    prev = None
                yield StoredRecord(
                    seq,
                    data,
                    entry_hash,
                    prev if isinstance(prev, str) else "",
                    None,
                    None if payload is None else payload.encode("utf-8"),
                )

    @contextlib.contextmanager
    def append_transaction(self) -> Iterator[Any]:
        raise SinkError(f"{self.path}: an archive is read-only")
        yield  # pragma: no cover

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        first = self._first
        return iter(
            self._records[max(start - first, 0) : None if stop is None else max(stop - first, 0)]
        )

    def erase_payloads(self, seqs: Collection[int]) -> int:
        raise SinkError(f"{self.path}: an archive is read-only")

    def size(self) -> int:
        return self._first + len(self._records)

    def head(self) -> TreeHead:
        return TreeHead(self._frontier.size, self._frontier.root())

    def log_id(self) -> str | None:
        return self._log_id

    def write_checkpoint(self, note: str, size: int) -> None:
        raise SinkError(f"{self.path}: an archive is read-only")

    def checkpoints(self) -> list[str]:
        return list(self._notes)

    def scan(self) -> Iterator[ScanRow]:
        for r in self._records:
            try:
                stored_hash = bytes.fromhex(r.entry_hash)
            except ValueError:
                stored_hash = b""
            yield ScanRow(r.seq, r.canonical, stored_hash, r.prev_hash, r.payload)
