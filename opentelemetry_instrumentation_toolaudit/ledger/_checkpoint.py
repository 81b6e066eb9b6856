# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note format, Ed25519 keys.

A checkpoint commits to the log's first ``size`` records::

    <origin>
    <size>
    <base64 RFC 9162 root>

    — <key name> <base64(4-byte key id || Ed25519 signature over the three lines above)>

Key ids are ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` (c2sp.org/signed-note), and keys
are written in the note key text formats of golang.org/x/mod/sumdb/note: the signing key as
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`` and the verifier key as
``<name>+<key id hex>+<base64(0x01 || public key)>``, so Go tooling (and witnesses) read them as is.

The signing key lives in ``OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE`` (default
``$XDG_CONFIG_HOME/toolaudit/signing.key``, i.e. ``~/.config/toolaudit/signing.key``). When the file
is absent a key is generated, written with mode 0600, and its verifier key exported beside it as
``<key file>.pub`` for auditors to pin (``toolaudit verify --public-key``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
)

if TYPE_CHECKING:
    # cryptography is imported where a key is used: importing the ledger (which every
    # instrumented app does) must not load it.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ALG_ED25519 = 0x01
_EM_DASH = "\u2014"
_BAD_NAME = re.compile(r"[\s+]")
_DECIMAL = re.compile(r"[0-9]{1,20}")
_LOG_ID = re.compile(r"[0-9a-f]{32}")


def key_id(name: str, public_key: bytes) -> int:
    """The signed-note key id of an Ed25519 key: ``SHA-256(name || 0x0A || 0x01 || key)[:4]``."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: str) -> str:
    if not name or _BAD_NAME.search(name):
        raise ToolAuditError("a note key name must be non-empty, with no spaces or '+'")
    return name


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclasses.dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 signed-note verifier key."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        """``<name>+<key id hex>+<base64(0x01 || public key)>``."""
        material = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        """Parse a verifier key; raises VerificationError when it is malformed."""
        parts = text.strip().split("+", 2)
        try:
            name, hash_hex, material = parts
            raw = base64.b64decode(material, validate=True)
            declared = int(hash_hex, 16)
        except (ValueError, binascii.Error):
            raise VerificationError(
                "malformed verifier key: expected <name>+<hex id>+<base64 key>"
            ) from None
        if len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise VerificationError("malformed verifier key: not an Ed25519 signed-note key")
        if not name or _BAD_NAME.search(name):
            raise VerificationError("malformed verifier key: the key name is empty or has spaces")
        verifier = cls(name, raw[1:])
        if verifier.key_id != declared:
            raise VerificationError("malformed verifier key: its key id does not match the key")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 signed-note signing key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._key = private_key
        self.verifier = NoteVerifier(name, _raw_public(private_key.public_key()))

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(name, Ed25519PrivateKey.generate())

    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`` (keep it secret)."""
        seed = self._key.private_bytes_raw()
        material = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{material}"

    @classmethod
    def from_skey(cls, text: str) -> NoteSigner:
        parts = text.strip().split("+", 4)
        try:
            private, key, name, hash_hex, material = parts
            raw = base64.b64decode(material, validate=True)
            declared = int(hash_hex, 16)
        except (ValueError, binascii.Error):
            raise ToolAuditError(
                "malformed signing key: expected PRIVATE+KEY+<name>+<hex id>+<base64>"
            ) from None
        if (private, key) != ("PRIVATE", "KEY") or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise ToolAuditError("malformed signing key: not an Ed25519 signed-note key")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id != declared:
            raise ToolAuditError("malformed signing key: its key id does not match the key")
        return signer

    def sign(self, text: str) -> str:
        """A signed note: ``text`` (ending in a newline), a blank line, this key's signature line."""
        if not text.endswith("\n"):
            raise ToolAuditError("a note's text must end with a newline")
        signature = self._key.sign(text.encode())
        blob = self.verifier.key_id.to_bytes(4, "big") + signature
        return f"{text}\n{_EM_DASH} {self.name} {base64.b64encode(blob).decode()}\n"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> NoteSigner:
        """Load the signing key at ``path``, generating it (mode 0600, ``.pub`` beside it) if absent."""
        path = Path(path).expanduser()
        try:
            return cls.from_skey(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ToolAuditError(f"cannot read the signing key {path}: {exc.strerror}") from None
        try:
            return _create_key_file(path)
        except OSError as exc:
            raise ToolAuditError(
                f"cannot create the signing key {path}: {exc.strerror}; "
                f"set {OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE} to a writable path"
            ) from None


def _create_key_file(path: Path) -> NoteSigner:
    signer = NoteSigner.generate(default_key_name())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(signer.skey() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() fails when the key already exists: a concurrent process created it first, and
            # every process must then use that one key.
            os.link(tmp, path)
        except FileExistsError:
            return NoteSigner.from_skey(path.read_text(encoding="utf-8"))
    finally:
        os.unlink(tmp)
    pub = public_key_path(path)
    pub.write_text(signer.verifier.vkey() + "\n", encoding="utf-8")
    logger.warning("toolaudit: created a checkpoint signing key at %s (public key: %s)", path, pub)
    return signer


def default_key_name() -> str:
    """``toolaudit/<hostname>``, sanitised to a valid note key name."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()) or "localhost"
    return f"toolaudit/{host}"


def default_key_path() -> Path:
    """``$OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE``, else ``$XDG_CONFIG_HOME/toolaudit/signing.key``
    (``~/.config/toolaudit/signing.key``)."""
    configured = os.environ.get(OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE, "").strip()
    if configured:
        return Path(configured).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.join("~", ".config")
    return Path(config).expanduser() / "toolaudit" / "signing.key"


def public_key_path(key_path: str | os.PathLike[str]) -> Path:
    """Where the verifier key of the signing key at ``key_path`` is exported: ``<key_path>.pub``."""
    return Path(f"{os.fspath(key_path)}.pub")


def load_verifier(spec: str) -> NoteVerifier:
    """A verifier key given as its text, or as the path of a file holding it."""
    candidate = Path(spec).expanduser()
    if "+" not in spec or candidate.exists():
        try:
            spec = candidate.read_text(encoding="utf-8")
        except OSError as exc:
            raise VerificationError(
                f"cannot read the public key {candidate}: {exc.strerror}"
            ) from None
    return NoteVerifier.from_vkey(spec)


def load_trusted_keys(path: str | os.PathLike[str]) -> list[NoteVerifier]:
    """The verifier keys listed in a trusted-keys file (``OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS``):
    one ``<name>+<key id>+<key>`` per line; blank lines and lines starting with ``#`` are ignored.
    Raises VerificationError naming the line of a malformed key, or when the file lists none."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VerificationError(f"cannot read the trusted keys {path}: {exc.strerror}") from None
    except ValueError:
        raise VerificationError(f"trusted keys {path}: not UTF-8 text") from None
    keys = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(NoteVerifier.from_vkey(text))
        except VerificationError as exc:
            raise VerificationError(f"trusted keys {path}, line {number}: {exc}") from None
    if not keys:
        raise VerificationError(f"trusted keys {path}: no verifier key in the file")
    return keys


# --- notes and checkpoints -------------------------------------------------------------------------

NOT_SIGNED = "no trusted key signed this checkpoint"
"""Why :func:`open_checkpoint` refuses a checkpoint that none of the trusted keys signed."""


@dataclasses.dataclass(frozen=True)
class Note:
    """A parsed signed note: its text and its signature lines as ``(name, key id, signature)``."""

    text: str
    signatures: tuple[tuple[str, int, bytes], ...]

    def verified_by(self, verifiers: Iterable[NoteVerifier]) -> list[NoteVerifier]:
        """The known keys whose signature on this note verifies. Raises VerificationError when a
        known key's signature fails (a forged or altered note)."""
        good = []
        for verifier in verifiers:
            for name, kid, signature in self.signatures:
                if name == verifier.name and kid == verifier.key_id:
                    if not verifier.verify(self.text.encode(), signature):
                        raise VerificationError(f"the signature by {name} does not verify")
                    good.append(verifier)
        return good


def parse_note(note: str) -> Note:
    """Split a signed note into text and signatures (no verification); VerificationError if malformed."""
    if not isinstance(note, str):
        raise VerificationError("malformed note: not text")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise VerificationError("malformed note: control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise VerificationError("malformed note: no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    signatures = []
    for line in block.splitlines():
        prefix = f"{_EM_DASH} "
        fields = line[len(prefix) :].split(" ") if line.startswith(prefix) else []
        if len(fields) != 2:
            raise VerificationError("malformed note: bad signature line")
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except binascii.Error:
            raise VerificationError("malformed note: signature is not base64") from None
        if len(blob) < 5:
            raise VerificationError("malformed note: signature too short")
        signatures.append((fields[0], int.from_bytes(blob[:4], "big"), blob[4:]))
    if not signatures:
        raise VerificationError("malformed note: no signatures")
    return Note(text, tuple(signatures))


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise VerificationError("malformed checkpoint: expected origin, size and root lines")
        origin, size_text, root_text, *extensions = lines[:-1]
        if not _DECIMAL.fullmatch(size_text) or (size_text != "0" and size_text.startswith("0")):
            raise VerificationError("malformed checkpoint: the size is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise VerificationError("malformed checkpoint: the root is not base64") from None
        if len(root) != 32:
            raise VerificationError("malformed checkpoint: the root is not 32 bytes")
        return cls(origin, int(size_text), root, tuple(extensions))


def names_other_log(origin: str, log_id: str | None) -> bool:
    """Whether a checkpoint's origin (``<name>/<log id>``) names a log other than ``log_id``. An
    origin naming no log id (written before log ids), or a log without one: not another log."""
    if log_id is None:
        return False
    last = origin.rsplit("/", 1)[-1]
    return last != log_id and _LOG_ID.fullmatch(last) is not None


def readable_checkpoints(
    notes: Iterable[str], log_id: str | None
) -> tuple[list[tuple[Checkpoint, str]], int]:
    """The checkpoints among ``notes`` that parse and do not name a log other than ``log_id``,
    each with its note (``log_id`` None: every one that parses), and how many did not parse.
    Signatures are not checked."""
    readable: list[tuple[Checkpoint, str]] = []
    unreadable = 0
    for note in notes:
        try:
            checkpoint, _ = open_checkpoint(note)
        except VerificationError:
            unreadable += 1
            continue
        if not names_other_log(checkpoint.origin, log_id):
            readable.append((checkpoint, note))
    return readable, unreadable


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed-note text of ``checkpoint``."""
    return signer.sign(checkpoint.text())


def open_checkpoint(note: str, verifiers: Sequence[NoteVerifier] = ()) -> tuple[Checkpoint, bool]:
    """Parse a signed checkpoint. With ``verifiers``, at least one must have signed it (else
    VerificationError); returns the checkpoint and whether a signature was checked. Anything
    malformed (text, base64, sizes, signature lines) raises VerificationError, nothing else."""
    try:
        parsed = parse_note(note)
        checkpoint = Checkpoint.parse(parsed.text)
        signed = bool(verifiers) and bool(parsed.verified_by(verifiers))
    except VerificationError:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise VerificationError(f"malformed checkpoint ({type(exc).__name__})") from None
    if verifiers and not signed:
        raise VerificationError(NOT_SIGNED)
    return checkpoint, signed
