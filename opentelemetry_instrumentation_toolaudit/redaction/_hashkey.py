# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The secret key behind keyed pseudonyms: where it comes from, and how pseudonyms are made.

A bare ``sha256(ssn)`` is reversed by hashing all 10^9 SSNs; ``HMAC-SHA256(key, ssn)`` cannot be
tested against a guess without the key. Every pseudonym names the key id, so keys can rotate and a
reader knows which key made which pseudonym.

Where the key comes from (:meth:`HashKey.from_env`), first found wins:

1. ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY``: the key itself (a string of at least 16 characters);
2. ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE``: a file holding it, created (0600, 64 random hex digits)
   if missing; by default ``$XDG_DATA_HOME/toolaudit/hash.key`` (``~/.local/share/...``).

A key shorter than 16 characters is refused like an unreadable key file: the process uses an
ephemeral key and says so. The key id is ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID`` if set, else
``HMAC-SHA256(key, label)`` truncated: the key's own check value, no more use for testing a guessed
key than any pseudonym already is. Neither the key nor any value is ever logged; a created key file is
logged by its path.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID,
)

PSEUDONYM_PREFIX = "hmac-sha256:"
PSEUDONYM_HEX = 32
"""Hex digits kept from the HMAC: 128 bits, ample for grouping; the key, not the length, stops guessing."""
PSEUDONYM_RE = re.compile(r"hmac-sha256:[A-Za-z0-9._-]{1,32}:[0-9a-f]{32}")
MIN_KEY_CHARS = 16
"""Shorter keys are refused: a short key can be found by trying keys against any pseudonym."""
_KEY_ID_LABEL = b"toolaudit key id v2"
_KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")


def default_key_path() -> Path:
    """``$XDG_DATA_HOME/toolaudit/hash.key``, else ``~/.local/share/toolaudit/hash.key``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "toolaudit" / "hash.key"


def derive_key_id(secret: bytes) -> str:
    """A short public id for a key: the HMAC of a fixed label under the key, truncated to 32 bits.

    It names the key (stable for one key, different for another) and uses the secret only as an
    HMAC key, like every pseudonym. Like any pseudonym of a known value, it lets someone confirm a
    guessed key: what stops guessing is the key's length (:data:`MIN_KEY_CHARS`), so shorter keys
    are refused.
    """
    return "k" + hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:8]


MAX_CACHED_PSEUDONYMS = 4096
"""Values (up to this many) whose pseudonym each key keeps, rather than computing its HMAC again."""


class HashKey:
    """A secret HMAC key and its public id. Its repr never shows the secret."""

    __slots__ = ("_mac", "_pseudonyms", "ephemeral", "key_id")

    def __init__(
        self, secret: bytes, key_id: str | None = None, *, ephemeral: bool = False
    ) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise ValueError(f"the hash key is shorter than {MIN_KEY_CHARS} bytes")
        if key_id is not None and not _KEY_ID_RE.fullmatch(key_id):
            raise ValueError("a key id is 1-32 characters from A-Z a-z 0-9 . _ -")
        self.key_id = key_id or derive_key_id(secret)
        self.ephemeral = ephemeral
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        # The same personal values (a user's email, a phone) come back call after call.
        self._pseudonyms: dict[str | bytes, str] = {}

    def __repr__(self) -> str:
        return f"HashKey(key_id={self.key_id!r}, ephemeral={self.ephemeral})"

    def hexdigest(self, data: bytes) -> str:
        """The full HMAC-SHA256 of ``data`` in hex."""
        mac = self._mac.copy()
        mac.update(data)
        return mac.hexdigest()

    def pseudonym(self, value: str | bytes) -> str:
        """``hmac-sha256:<key id>:<32 hex>``: the same value gives the same pseudonym under this key."""
        cache = self._pseudonyms
        pseudonym = cache.get(value)
        if pseudonym is None:
            data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
            pseudonym = f"{PSEUDONYM_PREFIX}{self.key_id}:{self.hexdigest(data)[:PSEUDONYM_HEX]}"
            if len(cache) >= MAX_CACHED_PSEUDONYMS:
                cache.clear()
            cache[value] = pseudonym
        return pseudonym

    @classmethod
    def ephemeral_key(cls) -> HashKey:
        """This process's random key: pseudonyms made with it cannot be linked across processes."""
        global _EPHEMERAL
        with _EPHEMERAL_LOCK:
            if _EPHEMERAL is None:
                secret = secrets.token_bytes(32)
                _EPHEMERAL = cls(secret, "e" + derive_key_id(secret)[1:], ephemeral=True)
            return _EPHEMERAL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HashKey:
        """The configured key (see the module docstring); an ephemeral one, with a warning, if the
        key is shorter than 16 characters or the key file can be neither read nor created. Never
        raises."""
        env = os.environ if environ is None else environ
        key_id = env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID) or None
        if key_id is not None and not _KEY_ID_RE.fullmatch(key_id):
            logger.warning(
                "toolaudit: %s is not 1-32 characters of A-Z a-z 0-9 . _ -; deriving the key id",
                OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID,
            )
            key_id = None
        inline = (env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY) or "").strip()
        if inline:
            if len(inline) < MIN_KEY_CHARS:
                return _fall_back(
                    f"{OTEL_PYTHON_TOOLAUDIT_HASH_KEY} is shorter than {MIN_KEY_CHARS} characters"
                )
            return cls(inline.encode("utf-8"), key_id)
        path = Path(env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE) or default_key_path())
        try:
            secret = load_or_create_key_file(path)
        except (OSError, ValueError) as exc:
            return _fall_back(
                f"cannot read or create the hash key file {path} ({type(exc).__name__})"
            )
        if len(secret.decode("utf-8", "replace")) < MIN_KEY_CHARS:
            return _fall_back(f"the hash key in {path} is shorter than {MIN_KEY_CHARS} characters")
        return cls(secret, key_id)


def _fall_back(reason: str) -> HashKey:
    """The ephemeral key, with a warning that says why (never the key, nor its length)."""
    logger.warning(
        "toolaudit: %s; using an ephemeral per-process key: pseudonyms will not be stable across "
        "processes (set %s or %s)",
        reason,
        OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
        OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    )
    return HashKey.ephemeral_key()


_EPHEMERAL: HashKey | None = None
_EPHEMERAL_LOCK = threading.Lock()


def load_or_create_key_file(path: Path) -> bytes:
    """The key stored in ``path``; if there is none, a new random one written there with mode 0600.

    Creation is atomic (write a private temp file, then hard-link it into place), so processes that
    start together agree on one key: the losers of the race read the winner's.
    """
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask (0o277 would leave it read-only)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_key(path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    logger.warning(
        "toolaudit: created a new hash key file %s (mode 0600); keep it secret and back it up: "
        "pseudonyms made with it can only be reproduced with it",
        path,
    )
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    with open(path, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        secret = handle.read().strip()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "toolaudit: hash key file %s is accessible to group or others; chmod 600 it", path
        )
    if not secret:
        raise ValueError("empty key file")
    return secret
