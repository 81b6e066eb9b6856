# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Cosignatures (c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``) and cosigner keys.

A cosignature is a signed-note signature line ``— <name> base64(key id || timestamp || signature)``
whose key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``, whose timestamp is a big-endian
u64 POSIX time, and whose Ed25519 signature covers::

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text>

Cosigner keys are written as signed-note keys with algorithm byte 0x04: the verifier key
``<name>+<key id hex>+<base64(0x04 || public key)>`` and, for the witness's own key file,
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x04 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit.witness._core import parse_note

ALG_COSIGNATURE_V1 = 0x04
_EM_DASH = "\u2014"
_BAD_NAME = re.compile(r"[\s+]")
_MAX_TIMESTAMP = 2**63 - 1


def cosigner_key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x04 || key)[:4]`` as an integer."""
    digest = hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def signed_message(note_text: str, timestamp: int) -> bytes:
    """What an Ed25519 ``cosignature/v1`` signs for a checkpoint whose note text is ``note_text``."""
    return f"cosignature/v1\ntime {timestamp}\n{note_text}".encode()


@dataclasses.dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who made it and when (POSIX seconds)."""

    name: str
    key_id: int
    timestamp: int


@dataclasses.dataclass(frozen=True)
class CosignerVerifier:
    """A witness's verifier key (``cosignature/v1``, Ed25519)."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return cosigner_key_id(self.name, self.public_key)

    def vkey(self) -> str:
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    @classmethod
    def from_vkey(cls, text: str) -> CosignerVerifier:
        """Parse a witness verifier key; VerificationError when it is not one."""
        try:
            name, hash_hex, material = text.strip().split("+", 2)
            raw = base64.b64decode(material, validate=True)
            declared = int(hash_hex, 16)
        except (ValueError, binascii.Error):
            raise VerificationError(
                "malformed witness key: expected <name>+<hex id>+<base64 key>"
            ) from None
        if len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise VerificationError(
                "malformed witness key: not an Ed25519 cosignature/v1 key (algorithm 0x04)"
            )
        if not name or _BAD_NAME.search(name):
            raise VerificationError("malformed witness key: the key name is empty or has spaces")
        verifier = cls(name, raw[1:])
        if verifier.key_id != declared:
            raise VerificationError("malformed witness key: its key id does not match the key")
        return verifier

    def verify_line(self, note_text: str, blob: bytes) -> Cosignature | None:
        """The cosignature in ``blob`` (key id, timestamp, signature) if it is this key's and
        verifies over ``note_text``; else None."""
        if len(blob) != 4 + 8 + 64 or int.from_bytes(blob[:4], "big") != self.key_id:
            return None
        timestamp = int.from_bytes(blob[4:12], "big")
        if timestamp > _MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                blob[12:], signed_message(note_text, timestamp)
            )
        except (InvalidSignature, ValueError):
            return None
        return Cosignature(self.name, self.key_id, timestamp)


class Cosigner:
    """A witness's signing key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not name or _BAD_NAME.search(name):
            raise ToolAuditError("a witness key name must be non-empty, with no spaces or '+'")
        self.name = name
        self._key = private_key
        raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = CosignerVerifier(name, raw)

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.generate())

    def skey(self) -> str:
        seed = self._key.private_bytes_raw()
        material = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{material}"

    @classmethod
    def from_skey(cls, text: str) -> Cosigner:
        try:
            private, key, name, hash_hex, material = text.strip().split("+", 4)
            raw = base64.b64decode(material, validate=True)
            declared = int(hash_hex, 16)
        except (ValueError, binascii.Error):
            raise ToolAuditError(
                "malformed witness key file: expected PRIVATE+KEY+<name>+<hex id>+<base64>"
            ) from None
        if (private, key) != ("PRIVATE", "KEY") or len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise ToolAuditError("malformed witness key file: not a cosignature/v1 Ed25519 key")
        cosigner = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if cosigner.verifier.key_id != declared:
            raise ToolAuditError("malformed witness key file: its key id does not match the key")
        return cosigner

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str) -> tuple[Cosigner, bool]:
        """The key at ``path``, or a new one named ``name`` written there (mode 0600, its verifier
        key in ``<path>.pub``); returns the key and whether it was created."""
        path = Path(path).expanduser()
        try:
            return cls.from_skey(path.read_text(encoding="utf-8")), False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ToolAuditError(f"cannot read the witness key {path}: {exc.strerror}") from None
        cosigner = cls.generate(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".witness-key-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(cosigner.skey() + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                os.link(tmp, path)  # fails if another process created the key first
            finally:
                os.unlink(tmp)
            Path(f"{path}.pub").write_text(cosigner.verifier.vkey() + "\n", encoding="utf-8")
        except FileExistsError:
            return cls.from_skey(path.read_text(encoding="utf-8")), False
        except OSError as exc:
            raise ToolAuditError(f"cannot create the witness key {path}: {exc.strerror}") from None
        return cosigner, True

    def cosign(self, note_text: str, timestamp: int | None = None) -> str:
        """The cosignature line (ending in a newline) over a checkpoint's note text."""
        when = int(time.time()) if timestamp is None else timestamp
        signature = self._key.sign(signed_message(note_text, when))
        blob = self.verifier.key_id.to_bytes(4, "big") + when.to_bytes(8, "big") + signature
        return f"{_EM_DASH} {self.name} {base64.b64encode(blob).decode()}\n"


def cosignatures(note: str, witnesses: Iterable[CosignerVerifier]) -> list[Cosignature]:
    """The valid cosignatures on a signed checkpoint note by ``witnesses`` (one per witness at
    most); lines of other keys, and lines that do not verify, are left out."""
    parsed = parse_note(note)
    found: dict[tuple[str, int], Cosignature] = {}
    for witness in witnesses:
        for name, kid, rest in parsed.signatures:
            if name != witness.name or kid != witness.key_id:
                continue
            cosignature = witness.verify_line(parsed.text, kid.to_bytes(4, "big") + rest)
            if cosignature is not None:
                found.setdefault((witness.name, witness.key_id), cosignature)
    return list(found.values())


def add_signature_lines(note: str, lines: Sequence[str]) -> str:
    """``note`` with the signature ``lines`` it does not already carry appended (C2SP signed notes
    carry any number of signatures)."""
    existing = set(note.splitlines())
    extra = [line.rstrip("\n") for line in lines if line.rstrip("\n") not in existing]
    return note + "".join(f"{line}\n" for line in extra)
