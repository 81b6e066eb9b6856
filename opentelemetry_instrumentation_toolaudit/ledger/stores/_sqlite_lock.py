# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Taking SQLite's write lock: wait while another writer holds it, fail at once when none does.

SQLite reports ``SQLITE_BUSY`` both when another connection holds the write lock and when its own
lock request fails for another reason: in WAL mode the write lock is a POSIX lock on the ``-shm``
file, and SQLite's unix VFS turns every failed ``fcntl`` on that file into ``SQLITE_BUSY`` (for
example ``EBADF`` when the files can no longer be written). With a busy timeout alone, a database
whose files cannot be written therefore waits out the whole timeout on each append.

So the wait is done here, in short slices: after each ``SQLITE_BUSY`` the kernel is asked
(``F_OFD_GETLK``, Linux) whether any process, this one included, holds a write lock on the
database or its ``-shm`` file. While one does, the append waits (up to ``BUSY_TIMEOUT``); when
none does several times in a row, the lock cannot be taken and the append fails at once. Where the
kernel cannot be asked, every ``SQLITE_BUSY`` is waited on, as with a plain busy timeout.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
import threading
import time

BUSY_TIMEOUT = 60.0
"""Seconds an append waits for another writer's lock before it fails."""
_SLICE_MS = 50
_UNHELD_TIMES = 3
_SQLITE_BUSY = 5


class LockUnavailableError(Exception):
    """SQLite reports the database busy, yet no process holds a write lock on its files."""


def begin_immediate(conn: sqlite3.Connection, path: str) -> None:
    """``BEGIN IMMEDIATE`` on ``conn`` (a connection to ``path`` whose busy timeout is
    ``BUSY_TIMEOUT``): waits while another writer holds the lock, and raises
    :class:`LockUnavailableError` when the lock cannot be taken though nobody holds it."""
    conn.execute(f"PRAGMA busy_timeout = {_SLICE_MS}")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT
        unheld = 0
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise
                # One reading can fall between two writers' transactions: a few in a row decide.
                unheld = 0 if write_lock_held(path) is not False else unheld + 1
                if unheld >= _UNHELD_TIMES:
                    raise LockUnavailableError(str(exc)) from None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")


def write_lock_held(path: str) -> bool | None:
    """Whether some process (this one included) holds a write lock on the database at ``path`` or
    on its ``-shm`` file; None when this platform cannot tell."""
    if not hasattr(fcntl, "F_OFD_GETLK") or struct.calcsize("P") != 8:
        return None
    for name in (path, f"{path}-shm"):
        fd = _probe(name)
        if fd is None:
            continue
        # Asking for a read lock over the whole file finds write locks only: SQLite's own read
        # locks (this connection's among them) do not conflict with it.
        query = _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
        try:
            answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, query)
        except OSError:
            return None
        if _FLOCK.unpack(answer)[0] != fcntl.F_UNLCK:
            return True
    return False


# struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid.
_FLOCK = struct.Struct("hhqqi4x")
_PROBES: dict[tuple[int, int], int] = {}
_PROBES_LOCK = threading.Lock()


def _probe(name: str) -> int | None:
    """A read-only descriptor of the file ``name``, kept open for the life of the process: closing
    any descriptor of a file releases every POSIX lock this process holds on it, SQLite's too."""
    try:
        st = os.stat(name)
    except OSError:
        return None
    with _PROBES_LOCK:
        key = (st.st_dev, st.st_ino)
        if key not in _PROBES:
            try:
                _PROBES[key] = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        return _PROBES[key]
