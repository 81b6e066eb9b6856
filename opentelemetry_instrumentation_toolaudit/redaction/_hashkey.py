"""The secret key behind keyed pseudonyms: where it comes from, and how pseudonyms are made.

A bare ``sha256(ssn)`` is reversed by hashing all 10^9 SSNs; ``HMAC-SHA256(key, ssn)`` cannot be
tested against a guess without the key. Every pseudonym names the key id, so keys can rotate and a
reader knows which key made which pseudonym.

Where the key comes from (:meth:`HashKey.from_env`), first found wins:

1. ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY``: the key itself (a string of at least 16 characters);
2. ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE``: a file holding it, created (0600, 64 random hex digits)
   if missing; by default ``$XDG_DATA_HOME/toolaudit/hash.key`` (``~/.local/share/...``).

The key id is ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID`` if set, else derived from the key. Neither the key
nor any value is ever logged; a created key file is logged by its path.
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
_KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")


def default_key_path() -> Path:
    """``$XDG_DATA_HOME/toolaudit/hash.key``, else ``~/.local/share/toolaudit/hash.key``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "toolaudit" / "hash.key"


def derive_key_id(secret: bytes) -> str:
    """A short public id for a key: it identifies the key without revealing anything about it."""
    return "k" + hashlib.sha256(b"toolaudit-key-id\x00" + secret).hexdigest()[:8]


class HashKey:
    """A secret HMAC key and its public id. Its repr never shows the secret."""

    __slots__ = ("_mac", "ephemeral", "key_id")

    def __init__(
        self, secret: bytes, key_id: str | None = None, *, ephemeral: bool = False
    ) -> None:
        if not secret:
            raise ValueError("the hash key is empty")
        if key_id is not None and not _KEY_ID_RE.fullmatch(key_id):
            raise ValueError("a key id is 1-32 characters from A-Z a-z 0-9 . _ -")
        self.key_id = key_id or derive_key_id(secret)
        self.ephemeral = ephemeral
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return f"HashKey(key_id={self.key_id!r}, ephemeral={self.ephemeral})"

    def hexdigest(self, data: bytes) -> str:
        """The full HMAC-SHA256 of ``data`` in hex."""
        mac = self._mac.copy()
        mac.update(data)
        return mac.hexdigest()

    def pseudonym(self, value: str | bytes) -> str:
        """``hmac-sha256:<key id>:<32 hex>``: the same value gives the same pseudonym under this key."""
        data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        return f"{PSEUDONYM_PREFIX}{self.key_id}:{self.hexdigest(data)[:PSEUDONYM_HEX]}"

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
        key file can be neither read nor created. Never raises."""
        env = os.environ if environ is None else environ
        key_id = env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID) or None
        if key_id is not None and not _KEY_ID_RE.fullmatch(key_id):
            logger.warning(
                "toolaudit: %s is not 1-32 characters of A-Z a-z 0-9 . _ -; deriving the key id",
                OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID,
            )
            key_id = None
        inline = env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY)
        if inline:
            if len(inline.strip()) < MIN_KEY_CHARS:
                logger.warning(
                    "toolaudit: %s is shorter than %d characters: pseudonyms are only as strong as the key",
                    OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
                    MIN_KEY_CHARS,
                )
            return cls(inline.strip().encode("utf-8"), key_id)
        path = Path(env.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE) or default_key_path())
        try:
            return cls(load_or_create_key_file(path), key_id)
        except (OSError, ValueError) as exc:
            logger.warning(
                "toolaudit: cannot read or create the hash key file %s (%s); using an ephemeral "
                "per-process key: pseudonyms will not be stable across processes (set %s or %s)",
                path,
                type(exc).__name__,
                OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
                OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
            )
            return cls.ephemeral_key()


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
