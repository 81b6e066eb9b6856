# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The JSON Lines sink: ``jsonl:///audit.jsonl`` (relative) or ``jsonl:////var/log/audit.jsonl``.

Each line is ``{"entry_hash":"<hex>","record":<the canonical record>}``: valid JSON for any tool
(``jq .record``), with the record's canonical bytes embedded verbatim. Files beside it:

* ``<file>.checkpoints``: signed checkpoint notes, one JSON line each;
* ``<file>.head``: a cache of the head (size, offset, last hash, Merkle frontier) so a process need
  not reread the log; it is checked against the log before use and rebuilt when stale;
* ``<file>.torn``: torn final writes found on open, kept (base64) rather than dropped;
* ``<file>.meta``: the log's identity (``{"log_id": …}``) and the record format new records are
  written in (``"record_format": 2``; absent in a log begun in format 1, which stays in format 1),
  written once when the log is created;
* ``<file>.payloads``: record format 2 payloads, one line each, ``{"seq":N,"payload":<canonical
  payload>}``. Lines are appended (and fsynced) before their records; a later line for the same
  seq replaces an earlier one (left by an append that failed). Erasing payloads rewrites this file
  atomically (a new file renamed over it) under the log's lock, so the log itself is only ever
  appended to.

Durability: a batch is one ``write`` and one ``fsync`` (group commit). Several processes share one
chain through ``flock`` on the log: under the lock a writer first reads any lines other processes
appended since it last looked, then appends after them. A process killed mid-write can leave a final
line without its newline; the next writer to open the file moves those bytes to ``<file>.torn``,
truncates the log back to the last whole line, and logs a warning. Those bytes were never
acknowledged (``append`` had not returned), and ``repairs()`` reports them to the verifier.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, VerificationError
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit.ledger._chain import (
    GENESIS_HASH,
    StoredRecord,
    leaf_hash,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    EVENT_ID,
    PREV_HASH,
    SCHEMA_V1,
    SCHEMA_V2,
    SEQ,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    AuditSink,
    StoredHead,
    TreeHead,
    check_file_writable,
    create_once,
    reinit_in_forked_child,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import path_from_url

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is the optional ``fast`` extra
    _loads = json.loads  # type: ignore[assignment]

_PREFIX = b'{"entry_hash":"'
_MIDDLE = b'","record":'
_HASH_END = len(_PREFIX) + 64
_RECORD_START = _HASH_END + len(_MIDDLE)
_PREFIX_LEN = len(_PREFIX)
_READ_SIZE = 1 << 20
LOG_ID_KEY = "log_id"
FORMAT_KEY = "record_format"
_PAYLOAD_PREFIX = b'{"seq":'
_PAYLOAD_MIDDLE = b',"payload":'
RECENT_BATCHES = 64
"""How many of its own recent batches a JSONL sink remembers the event ids of, for retries."""


def frame(record: StoredRecord) -> bytes:
    """The line holding ``record``."""
    return b"".join((_PREFIX, record.entry_hash.encode(), _MIDDLE, record.canonical, b"}\n"))


def unframe(line: bytes) -> tuple[bytes, bytes] | None:
    """``(entry hash, canonical bytes)`` of a line (without its newline), or None if not framed."""
    if not (
        line.startswith(_PREFIX)
        and line[_HASH_END:_RECORD_START] == _MIDDLE
        and line.endswith(b"}")
    ):
        return None
    try:
        digest = bytes.fromhex(line[len(_PREFIX) : _HASH_END].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return digest, line[_RECORD_START:-1]


class JSONLSink(AuditSink):
    """Records in a JSON Lines file; see the module docstring for durability and concurrency."""

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, url: str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.url = url or f"jsonl:///{self.path}"
        self._lock = threading.RLock()
        self._create = create
        self._flags = os.O_RDWR | os.O_APPEND | os.O_CREAT if create else os.O_RDONLY
        try:
            existed = os.path.exists(self.path)
            self._fd = os.open(self.path, self._flags, 0o640)
        except FileNotFoundError:
            raise SinkError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot open ({exc.strerror})") from None
        if create and not existed:
            _fsync_dir(self.path)
        self._size = 0
        self._offset = 0
        self._prev = GENESIS_HASH
        self._frontier = Frontier()
        # The event ids of this object's last RECENT_BATCHES batches, as one set kept in step.
        self._recent_batches: collections.deque[frozenset[str]] = collections.deque()
        self._recent_ids: set[str] = set()
        # Event ids of a failed append whose bytes could not be cut back: whether they are stored
        # is settled by reading the file (_catch_up).
        self._unsettled: set[str] = set()
        if create:
            with self._flock():
                self._repair_torn_tail()
                self._load_head()
                self._catch_up()
                self._create_meta()
            self.record_format = self._meta_format()
        reinit_in_forked_child(self, "_after_fork")

    def _after_fork(self) -> None:
        # flock belongs to the open file description, which a fork shares: the child needs its own,
        # or parent and child would both "hold" the lock and interleave their appends.
        self._lock = threading.RLock()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = os.open(self.path, self._flags, 0o640)

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> JSONLSink:
        return cls(path_from_url(url, "jsonl"), create=create, url=url)

    # --- locking, head and recovery ----------------------------------------------------------

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        with self._lock:
            if self._fd < 0:
                raise SinkError(f"{self.path}: the sink is closed")
            while True:
                fcntl.flock(self._fd, fcntl.LOCK_EX if self._create else fcntl.LOCK_SH)
                if not self._replaced():
                    break
                # Pruned by another process (a new file renamed over ours): read it afresh.
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._reopen()
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _replaced(self) -> bool:
        """Whether the log at our path is no longer the file we hold open (it was pruned)."""
        try:
            return os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
        except OSError:
            return False

    def _reopen(self) -> None:
        os.close(self._fd)
        self._fd = -1
        try:
            self._fd = os.open(self.path, self._flags, 0o640)
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot open ({exc.strerror})") from None
        self._size, self._offset, self._prev, self._frontier = 0, 0, GENESIS_HASH, Frontier()

    def _first_seq(self) -> int:
        """The sequence number of the log's first record: 0, or the cut it was pruned at."""
        try:
            with open(self.path, "rb") as f:
                first = f.readline()
        except OSError:
            return 0
        parsed = unframe(first.rstrip(b"\n"))
        if parsed is None:
            return 0
        try:
            seq = _loads(parsed[1]).get(SEQ)
        except (ValueError, AttributeError):
            return 0
        return seq if type(seq) is int and seq > 0 else 0

    def _start_from_cut(self) -> None:
        """Before reading the log from its start: a log pruned at ``n`` continues the chain and
        the Merkle tree from its pruning checkpoint (its frontier and record n-1's hash)."""
        first = self._first_seq()
        if not first:
            return
        from opentelemetry_instrumentation_toolaudit.ledger._prune import prunings

        for pruning in prunings(self.checkpoints(), self.log_id()):
            if pruning.cut == first:
                self._size, self._prev, self._frontier = first, pruning.prev_hash, pruning.start()
                return
        raise SinkError(
            f"{self.path}: the log starts at record #{first} and no pruning checkpoint says "
            "why: run `toolaudit verify`"
        )

    def _repair_torn_tail(self) -> None:
        end = os.fstat(self._fd).st_size
        if end == 0:
            return
        tail_start = max(0, end - 1)
        if os.pread(self._fd, 1, tail_start) == b"\n":
            return
        # Find the last newline: everything after it is a write that never completed.
        pos = end
        cut = 0
        while pos > 0:
            start = max(0, pos - 65536)
            chunk = os.pread(self._fd, pos - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                cut = start + i + 1
                break
            pos = start
        torn = os.pread(self._fd, end - cut, cut)
        entry = {
            "offset": cut,
            "length": len(torn),
            "found_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "bytes_base64": base64.b64encode(torn).decode(),
        }
        _append_durably(self.path + ".torn", (json.dumps(entry) + "\n").encode())
        os.truncate(self.path, cut)
        os.fsync(self._fd)
        logger.warning(
            "toolaudit: %s: repaired a torn final write (%d bytes at offset %d, kept in %s.torn)",
            self.path,
            len(torn),
            cut,
            self.path,
        )

    def _read_head_file(self) -> tuple[int, int, str, list[bytes]] | None:
        """The ``.head`` cache's size, offset (0 when it gives none), last hash and frontier
        hashes, or None when it is absent or unreadable."""
        try:
            with open(self.path + ".head", encoding="utf-8") as f:
                head = json.load(f)
            return (
                int(head["size"]),
                int(head.get("offset", 0)),
                str(head["prev"]),
                [bytes.fromhex(h) for h in head["frontier"]],
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _load_head(self) -> None:
        stored = self._read_head_file()
        if stored is None:
            return
        size, offset, prev, hashes = stored
        try:
            frontier = Frontier(size, hashes)
        except VerificationError:
            return
        if offset > os.fstat(self._fd).st_size or offset == 0:
            return
        # Trust the cache only if the line that ends at its offset hashes to its last hash.
        start = max(0, offset - (1 << 20))
        chunk = os.pread(self._fd, offset - start, start)
        if not chunk.endswith(b"\n"):
            return
        line_start = chunk.rfind(b"\n", 0, len(chunk) - 1) + 1
        parsed = unframe(chunk[line_start:-1])
        if parsed is None or leaf_hash(parsed[1]).hex() != prev or (line_start == 0 and start > 0):
            return
        self._size, self._offset, self._prev, self._frontier = size, offset, prev, frontier

    head_covers_log = False  # the .head file is a cache written after the log's fsync

    def stored_head(self) -> StoredHead | None:
        """The ``.head`` cache as stored, or None when it is absent or unreadable (a writer then
        rebuilds it from the log)."""
        stored = self._read_head_file()
        if stored is None:
            return None
        size, _, prev, hashes = stored
        return StoredHead(size, prev, b"".join(hashes))

    def _create_meta(self) -> None:
        """Write ``<file>.meta`` with a new log id unless it exists (called under the lock)."""
        if os.path.exists(self.path + ".meta"):
            return
        # A log begun before format 2 (records but no meta) continues in format 1.
        fields: dict[str, Any] = {LOG_ID_KEY: uuid.uuid4().hex}
        if self._size == 0:
            fields[FORMAT_KEY] = SCHEMA_V2
        meta = json.dumps(fields) + "\n"
        try:
            create_once(self.path + ".meta", meta.encode(), 0o440)
        except OSError as exc:
            raise SinkError(f"{self.path}.meta: cannot create ({exc.strerror})") from None

    def _meta_format(self) -> int:
        """The record format the meta file names (absent or unreadable: format 1)."""
        try:
            with open(self.path + ".meta", encoding="utf-8") as f:
                value = json.load(f).get(FORMAT_KEY)
        except (OSError, ValueError, AttributeError):
            return SCHEMA_V1
        return SCHEMA_V2 if value == SCHEMA_V2 else SCHEMA_V1

    def log_id(self) -> str | None:
        try:
            with open(self.path + ".meta", encoding="utf-8") as f:
                value = json.load(f)[LOG_ID_KEY]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # A damaged identity names no log: every checkpoint of this log then counts as foreign.
            return "unreadable"
        return str(value)

    def _save_head(self) -> None:
        # Not fsynced: the log is the truth and the cache is checked against it on load.
        head = {
            "size": self._size,
            "offset": self._offset,
            "prev": self._prev,
            "frontier": [h.hex() for h in self._frontier.hashes],
        }
        with contextlib.suppress(OSError):
            tmp = f"{self.path}.head.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(head, f)
            os.replace(tmp, self.path + ".head")

    def _catch_up(self) -> None:
        """Read lines appended (by any process) after our offset, advancing size, hash and frontier."""
        if self._offset == 0 and self._size == 0:
            self._start_from_cut()
        end = os.fstat(self._fd).st_size
        if end <= self._offset:
            self._unsettled = set()  # nothing of a failed append reached the file
            return
        data = os.pread(self._fd, end - self._offset, self._offset)
        complete = data.rfind(b"\n") + 1
        if complete < len(data) and self._create:
            # Another writer died mid-write after we opened: repair before anything is appended
            # after the partial line (which would otherwise swallow our first record).
            self._repair_torn_tail()
            data = data[:complete]
        unsettled = self._unsettled
        if unsettled:
            # Lines a failed append of ours left behind count once they are durable, not before.
            os.fsync(self._fd)
        settled = []
        for line in data[:complete].split(b"\n")[:-1]:
            parsed = unframe(line)
            if parsed is None:
                raise SinkError(
                    f"{self.path}: line {self._size + 1} is not a toolaudit record; run `toolaudit verify`"
                )
            digest = leaf_hash(parsed[1])
            self._frontier.append(digest)
            self._prev = digest.hex()
            self._size += 1
            if unsettled:
                event_id = _event_id(parsed[1])
                if event_id in unsettled:
                    settled.append({EVENT_ID: event_id})
        self._offset += complete
        if unsettled:
            # Those found are stored (a retry skips them); the others never reached the file.
            self._remember(settled)
            self._unsettled = set()

    # --- the sink interface -----------------------------------------------------------------

    unique_event_ids = False
    seals_columns = False
    node_min_level = None

    @property
    def where(self) -> str:
        return self.path

    @contextlib.contextmanager
    def append_transaction(self) -> Iterator[_JSONLTransaction]:
        with self._flock():
            try:
                self._catch_up()
            except OSError as exc:
                raise SinkError(f"{self.path}: append failed ({exc.strerror})") from None
            yield _JSONLTransaction(self)

    def _write_payloads(self, records: Sequence[StoredRecord]) -> None:
        """Append the batch's payloads durably to ``<file>.payloads``, before its records."""
        lines = b"".join(
            b"%s%d%s%s}\n" % (_PAYLOAD_PREFIX, r.seq, _PAYLOAD_MIDDLE, r.payload)
            for r in records
            if r.payload is not None
        )
        if not lines:
            return
        path = self.path + ".payloads"
        size = _file_size(path)
        if size and _last_byte(path, size) != b"\n":
            lines = b"\n" + lines  # after a torn line, never joined to it
        try:
            _append_durably(path, lines)
        except OSError as exc:
            raise SinkError(f"{path}: append failed ({exc.strerror})") from None

    def _payloads(self) -> dict[int, bytes]:
        """The stored payloads by seq (a later line for a seq replaces an earlier one)."""
        payloads: dict[int, bytes] = {}
        for line in _read_lines(self.path + ".payloads"):
            parsed = _unframe_payload(line)
            if parsed is not None:
                payloads[parsed[0]] = parsed[1]
        return payloads

    def erase_payloads(self, seqs: Collection[int]) -> int:
        wanted = {int(seq) for seq in seqs}
        path = self.path + ".payloads"
        if not wanted or not os.path.exists(path):
            return 0
        with self._flock():
            kept: list[bytes] = []
            erased: set[int] = set()
            for line in _read_lines(path):
                parsed = _unframe_payload(line)
                if parsed is not None and parsed[0] in wanted:
                    erased.add(parsed[0])
                else:
                    kept.append(line + b"\n")
            if not erased:
                return 0
            try:
                _replace_file(path, b"".join(kept))
                _fsync_dir(path)
            except OSError as exc:
                raise SinkError(f"{path}: erasing payloads failed ({exc.strerror})") from None
        return len(erased)

    def _write_batch(self, records: Sequence[StoredRecord], ids: frozenset[str]) -> None:
        """Append the framed records durably (the batch's commit), under the lock."""
        self._write_payloads(records)
        payload = b"".join(frame(r) for r in records)
        try:
            written = 0
            while written < len(payload):
                written += os.write(self._fd, payload[written:])
            os.fsync(self._fd)
        except OSError as exc:
            # Not acknowledged, so not kept: cut back what was written (we hold the lock, nobody
            # appended after us), so a retry does not leave the batch in the log twice.
            try:
                os.ftruncate(self._fd, self._offset)
            except OSError:
                # What reached the file is unknown: the next append reads it back and counts
                # only the whole lines it finds there, once fsynced (_catch_up).
                self._unsettled |= ids
            raise SinkError(f"{self.path}: append failed ({exc.strerror})") from None
        self._remember_ids(ids)
        self._offset += len(payload)

    def _set_head(self, frontier: Frontier, prev_hash: str) -> None:
        self._frontier = frontier
        self._size = frontier.size
        self._prev = prev_hash
        self._save_head()

    def check_writable(self) -> None:
        # The head cache, checkpoints and torn-write files are written beside the log.
        check_file_writable(self.path, "log")

    def _remember(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        """Add a written batch's event ids to the recent ones, forgetting the oldest batch's."""
        self._remember_ids(frozenset(b[EVENT_ID] for b in bodies if type(b.get(EVENT_ID)) is str))

    def _remember_ids(self, ids: frozenset[str]) -> None:
        self._recent_batches.append(ids)
        self._recent_ids |= ids
        if len(self._recent_batches) > RECENT_BATCHES:
            self._recent_ids -= self._recent_batches.popleft()

    def _lines(self) -> Iterator[bytes]:
        for lines in self._line_chunks():
            yield from lines

    def _line_chunks(self) -> Iterator[list[bytes]]:
        """The log's complete lines (without newlines), a list per megabyte read. Large reads split
        in C beat ``for line in file``; a torn final write (no newline) is never a line: it is
        reported by repairs(), never a record."""
        try:
            with open(self.path, "rb", buffering=0) as f:
                pending: list[bytes] = []  # the start of a line that continues in the next read
                while True:
                    chunk = f.read(_READ_SIZE)
                    if not chunk:
                        return
                    lines = chunk.split(b"\n")
                    if len(lines) == 1:  # a line longer than a read: joined once, when it ends
                        pending.append(chunk)
                        continue
                    if pending:
                        lines[0] = b"".join((*pending, lines[0]))
                    tail = lines.pop()  # b"" when the read ended with a newline
                    pending = [tail] if tail else []
                    yield lines
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot read ({exc.strerror})") from None

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        payloads = self._payloads()
        for seq, line in enumerate(self._lines(), self._first_seq()):
            if stop is not None and seq >= stop:
                return
            if seq < start:
                continue
            parsed = unframe(line)
            if parsed is None:
                raise SinkError(f"{self.path}: line {seq + 1} is not a toolaudit record")
            try:
                record = _loads(parsed[1])
                prev_hash = str(record.get(PREV_HASH, ""))
                # A payload belongs to the seq its envelope names, not to a line number.
                payload = payloads.get(record.get(SEQ)) if payloads else None
            except (ValueError, AttributeError, TypeError):  # not a JSON object: verify reports it
                prev_hash, payload = "", None
            yield StoredRecord(seq, parsed[1], parsed[0].hex(), prev_hash, None, payload)

    def prune_prefix(self, cut: int, note: str) -> int:
        """Rewrite the log without records ``0 .. cut-1`` (a new file, fsynced, renamed over it)
        and the payloads without theirs, after appending the pruning checkpoint, under the lock:
        a crash leaves either file whole, and a log that still starts at 0 verifies as before."""
        with self._flock():
            self._catch_up()
            if not self._first_seq() < cut <= self._size:
                raise SinkError(f"{self.path}: no records before #{cut} to prune")
            temp = f"{self.path}.prune.{os.getpid()}.tmp"
            removed = 0
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
                try:
                    with contextlib.suppress(OSError):
                        os.fchmod(fd, os.fstat(self._fd).st_mode & 0o777)
                    for lines in self._line_chunks():
                        kept = []
                        for line in lines:
                            parsed = unframe(line)
                            seq = _loads(parsed[1]).get(SEQ) if parsed is not None else None
                            if type(seq) is not int:
                                raise SinkError(
                                    f"{self.path}: a line is not a toolaudit record; run "
                                    "`toolaudit verify` before pruning"
                                )
                            if seq < cut:
                                removed += 1
                            else:
                                kept.append(line + b"\n")
                        if kept:
                            os.write(fd, b"".join(kept))
                    os.fsync(fd)
                    length = os.lseek(fd, 0, os.SEEK_CUR)
                finally:
                    os.close(fd)
                self._erase_payloads_before(cut)
                self._write_checkpoint_line(note, cut)
                os.replace(temp, self.path)
                _fsync_dir(self.path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise SinkError(f"{self.path}: pruning failed ({exc.strerror})") from None
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
            # Our descriptor (and lock) are on the old file: lock the new one before letting the
            # old one go, so no other writer appends while the head is saved; one that opened
            # the new file in between has appended after its records, which are caught up on.
            try:
                fresh = os.open(self.path, self._flags, 0o640)
            except OSError as exc:
                raise SinkError(f"{self.path}: cannot open ({exc.strerror})") from None
            fcntl.flock(fresh, fcntl.LOCK_EX if self._create else fcntl.LOCK_SH)
            old, self._fd = self._fd, fresh
            os.close(old)
            self._offset = length
            self._catch_up()
            self._save_head()
        return removed

    def _erase_payloads_before(self, cut: int) -> None:
        path = self.path + ".payloads"
        if not os.path.exists(path):
            return
        kept = [
            line + b"\n"
            for line in _read_lines(path)
            if (parsed := _unframe_payload(line)) is None or parsed[0] >= cut
        ]
        _replace_file(path, b"".join(kept))

    def size(self) -> int:
        with self._flock():
            self._catch_up()
            return self._size

    def head(self) -> TreeHead:
        with self._flock():
            self._catch_up()
            return TreeHead(self._size, self._frontier.root())

    def write_checkpoint(self, note: str, size: int) -> None:
        with self._flock():
            self._write_checkpoint_line(note, size)

    def _write_checkpoint_line(self, note: str, size: int) -> None:
        try:
            _append_durably(
                self.path + ".checkpoints",
                (json.dumps({"size": size, "note": note}) + "\n").encode(),
            )
        except OSError as exc:
            raise SinkError(f"{self.path}.checkpoints: write failed ({exc.strerror})") from None

    def checkpoints(self) -> list[str]:
        out = []
        for line in _read_lines(self.path + ".checkpoints"):
            try:
                out.append(str(json.loads(line)["note"]))
            except (ValueError, KeyError, TypeError):
                # Kept as it is: a line that is no checkpoint fails to parse where it is used
                # (verify reports it, the writer and prove skip it).
                out.append(line.decode("utf-8", "replace"))
        return out

    def repairs(self) -> list[str]:
        out = []
        for line in _read_lines(self.path + ".torn"):
            try:
                entry = json.loads(line)
                out.append(
                    f"torn final write of {entry['length']} bytes at offset {entry['offset']} "
                    f"repaired {entry['found_at']} (kept in {os.path.basename(self.path)}.torn)"
                )
            except (ValueError, KeyError, TypeError):
                out.append("unreadable entry in the torn-write file")
        end = _file_size(self.path)
        if end and _last_byte(self.path, end) != b"\n":
            out.append(
                "a torn final write is present and not yet repaired (the next writer repairs it)"
            )
        return out

    def scan(self) -> Iterator[tuple[int, bytes, bytes, str, bytes | None]]:
        # The verifier's cost per record: unframe() inlined for lines framed as written. Plain
        # tuples, not ScanRow: one fewer object per record.
        first = True
        seq = self._first_seq() - 1  # a line's place, for a line that names none
        loads = _loads
        unhex = binascii.unhexlify
        payload = self._payloads().get
        for lines in self._line_chunks():
            for line in lines:
                seq += 1
                parsed: tuple[bytes, bytes] | None = None
                if (
                    line.startswith(_PREFIX)
                    and line.endswith(b"}")
                    and line[_HASH_END:_RECORD_START] == _MIDDLE
                ):
                    try:
                        parsed = unhex(line[_PREFIX_LEN:_HASH_END]), line[_RECORD_START:-1]
                    except binascii.Error:  # not plain hex: unframe() decides, as it always has
                        parsed = unframe(line)
                if parsed is None:
                    if first:
                        raise SinkError(
                            f"{self.path}: not a toolaudit JSONL log (line 1 is not a record)"
                        )
                    yield seq, line, b"", "", None
                    continue
                first = False
                digest, canonical = parsed
                try:
                    record = loads(canonical)
                    number = int(record[SEQ])
                    yield number, canonical, digest, str(record[PREV_HASH]), payload(number)
                except (ValueError, KeyError, TypeError):
                    yield seq, canonical, digest, "", None
        if first and _file_size(self.path):
            raise SinkError(f"{self.path}: not a toolaudit JSONL log (no complete record line)")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class _JSONLTransaction:
    """The append protocol's port over one exclusive lock of a JSONLSink: the batch commits when
    its lines are fsynced; a checkpoint is appended after them under the same lock."""

    def __init__(self, sink: JSONLSink) -> None:
        self._sink = sink
        self._ids: frozenset[str] = frozenset()

    def read_head(self) -> tuple[str, Frontier]:
        return self._sink._prev, self._sink._frontier.copy()

    def stored_event_ids(self, event_ids: Sequence[str]) -> frozenset[str]:
        # A retry can only repeat what this object wrote: its recent batches' event ids.
        batch = frozenset(event_ids)
        stored = batch & self._sink._recent_ids
        self._ids = batch - stored
        return stored

    def write(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        nodes: Sequence[tuple[int, int, bytes]],
        frontier: Frontier,
    ) -> None:
        self._sink._write_batch(records, self._ids)
        self._sink._set_head(frontier, records[-1].entry_hash)

    def write_checkpoint(self, note: str, size: int) -> None:
        try:
            self._sink._write_checkpoint_line(note, size)
        except SinkError as exc:
            # The batch is durable already (its lines are fsynced): the next checkpoint covers it.
            internal_error("audit checkpoint", exc)


def _event_id(canonical: bytes) -> str | None:
    """The event id a record's canonical bytes hold, if any."""
    try:
        value = _loads(canonical).get(EVENT_ID)
    except (ValueError, AttributeError):
        return None
    return value if type(value) is str else None


def _unframe_payload(line: bytes) -> tuple[int, bytes] | None:
    """``(seq, payload bytes)`` of a ``<file>.payloads`` line, or None if it is not one."""
    if not line.startswith(_PAYLOAD_PREFIX) or not line.endswith(b"}"):
        return None
    middle = line.find(_PAYLOAD_MIDDLE)
    try:
        seq = int(line[len(_PAYLOAD_PREFIX) : middle])
    except ValueError:
        return None
    return seq, line[middle + len(_PAYLOAD_MIDDLE) : -1]


def _append_durably(path: str, data: bytes) -> None:
    existed = os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not existed:
        _fsync_dir(path)


def _replace_file(path: str, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically: written and fsynced beside it, then
    renamed over it (the directory is not fsynced here); the temporary file is removed on failure."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_lines(path: str) -> list[bytes]:
    try:
        with open(path, "rb") as f:
            return [line for line in f.read().split(b"\n") if line.strip()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SinkError(f"{path}: cannot read ({exc.strerror})") from None


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _last_byte(path: str, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1)


__all__ = ["JSONLSink"]
