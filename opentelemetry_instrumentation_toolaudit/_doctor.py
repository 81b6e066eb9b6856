# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit doctor``: check a writer's configuration before it runs, and say what to fix.

Every check reads the same environment variables as the writer (``OTEL_PYTHON_TOOLAUDIT_*``).
Nothing here prints; the CLI shows the :class:`Finding` list. No finding ever holds a secret: a
sink URL is shown with its password masked, and keys are described, never quoted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry_instrumentation_toolaudit._env import read_list, read_str
from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR,
    OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_SINK,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import path_from_url, redact_url

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.ledger import NoteVerifier

OK = "ok"
FAIL = "fail"
INFO = "info"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One checked item: its status (ok, fail or info), what was found, and for a failure the fix."""

    status: str
    item: str
    detail: str
    fix: str = ""


def diagnose(sink_url: str | None = None) -> list[Finding]:
    """Check the sink, the signing key, the hash key, the checkpoint directory and the framework
    integrations, as a writer started with this environment would use them."""
    return [
        check_sink(sink_url),
        check_signing_key(),
        check_hash_key(),
        check_checkpoint_dir(),
        *check_integrations(),
    ]


def check_sink(sink_url: str | None) -> Finding:
    """The sink opens for writing and this process may append to it."""
    from opentelemetry_instrumentation_toolaudit.ledger._prune import latest
    from opentelemetry_instrumentation_toolaudit.ledger.stores import DEFAULT_SINK_URL, open_sink

    env = read_str(OTEL_PYTHON_TOOLAUDIT_SINK)
    url = sink_url or env or DEFAULT_SINK_URL
    source = "--sink" if sink_url else OTEL_PYTHON_TOOLAUDIT_SINK if env else "the default"
    item = f"sink {redact_url(url)} ({source})"
    fix = f"set {OTEL_PYTHON_TOOLAUDIT_SINK} to a sink this process can write"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        if scheme in ("sqlite", "jsonl"):
            path = Path(path_from_url(url, scheme))
            if not path.exists():
                return _new_file(
                    item, path, "created by the first writer", fix, creates_parents=False
                )
        # Opened as a verifier opens it: the check creates and changes nothing.
        with open_sink(url, create=False) as sink:
            sink.check_writable()
            size = sink.size()
            notes, log_id = sink.checkpoints(), sink.log_id()
            pruning = latest(notes, log_id)
            verifier = _own_verifier() if pruning is not None else None
            signed = verifier is not None and latest(notes, log_id, [verifier]) == pruning
    except ToolAuditError as exc:
        if scheme in ("postgresql", "postgres") and _no_tables(exc):
            return _new_tables(item, url, fix)
        return Finding(FAIL, item, redact_url(str(exc)), fix)
    except OSError as exc:
        return Finding(FAIL, item, exc.strerror or type(exc).__name__, fix)
    if pruning is None:
        return Finding(OK, item, f"writable, {size} records")
    pruned = f"writable, {size} records (records #0..#{pruning.cut - 1} pruned behind a"
    # A pruned trail is whole: its first records were removed behind a signed pruning checkpoint.
    if signed:
        return Finding(OK, item, f"{pruned} pruning checkpoint signed with the signing key)")
    if verifier is None:
        return Finding(
            OK, item, f"{pruned} pruning checkpoint, not checked: the signing key is not readable)"
        )
    return Finding(
        FAIL,
        item,
        f"{pruned} pruning checkpoint not signed with the signing key)",
        "run `toolaudit verify` on the sink with the signing key's public key",
    )


def _own_verifier() -> NoteVerifier | None:
    """The verifier key of the writer's signing key; None when it cannot be read (never created
    here)."""
    from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner, default_key_path

    try:
        return NoteSigner.from_skey(default_key_path().read_text(encoding="utf-8")).verifier
    except (OSError, ValueError, ToolAuditError):
        return None


def _no_tables(exc: Exception) -> bool:
    from opentelemetry_instrumentation_toolaudit.ledger.stores.postgres import NoTablesError

    return isinstance(exc, NoTablesError)


def _new_tables(item: str, url: str, fix: str) -> Finding:
    """A PostgreSQL database without the audit tables yet: fine when this role may create them."""
    from opentelemetry_instrumentation_toolaudit.ledger.stores.postgres import creation_problem

    try:
        problem = creation_problem(url)
    except ToolAuditError as exc:
        return Finding(FAIL, item, redact_url(str(exc)), fix)
    if problem is None:
        return Finding(OK, item, "no audit tables yet: the first writer creates them")
    return Finding(FAIL, item, f"no audit tables yet and {problem}", fix)


def check_signing_key() -> Finding:
    """The checkpoint signing key can be read (or, absent, created)."""
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
        NoteSigner,
        default_key_path,
        public_key_path,
    )

    path = default_key_path()
    source = (
        OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE
        if read_str(OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE)
        else "the default"
    )
    item = f"signing key {path} ({source})"
    fix = f"make the key readable by this user, or set {OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE}"
    if not path.exists():
        return _new_file(item, path, "generated by the first writer", fix)
    try:
        signer = NoteSigner.from_skey(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return Finding(FAIL, item, f"cannot read it ({exc.strerror})", fix)
    except (ToolAuditError, ValueError):
        return Finding(FAIL, item, "not a signing key (signed-note PRIVATE+KEY text)", fix)
    public = public_key_path(path)
    where = f"verifier key {public}" if public.exists() else "no .pub file beside it"
    return Finding(OK, item, f"readable, key {signer.name!r} ({where})")


def check_hash_key() -> Finding:
    """The key behind pseudonyms is usable: otherwise pseudonyms are not stable across processes."""
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import (
        MIN_KEY_CHARS,
        default_key_path,
    )

    inline = read_str(OTEL_PYTHON_TOOLAUDIT_HASH_KEY)
    if inline:
        item = f"hash key ({OTEL_PYTHON_TOOLAUDIT_HASH_KEY})"
        if len(inline) < MIN_KEY_CHARS:
            return Finding(
                FAIL,
                item,
                f"shorter than {MIN_KEY_CHARS} characters: an ephemeral key would be used",
                f"set {OTEL_PYTHON_TOOLAUDIT_HASH_KEY} to at least {MIN_KEY_CHARS} random characters",
            )
        return Finding(OK, item, "set")
    configured = read_str(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE)
    path = Path(configured) if configured else default_key_path()
    source = OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE if configured else "the default"
    item = f"hash key {path} ({source})"
    fix = f"make the file readable by this user, or set {OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE}"
    if not path.exists():
        return _new_file(item, path, "created by the first writer", fix)
    try:
        secret = path.read_bytes().strip()
        mode = path.stat().st_mode
    except OSError as exc:
        return Finding(
            FAIL, item, f"cannot read it ({exc.strerror}): an ephemeral key would be used", fix
        )
    if len(secret.decode("utf-8", "replace")) < MIN_KEY_CHARS:
        return Finding(
            FAIL,
            item,
            f"holds fewer than {MIN_KEY_CHARS} characters: an ephemeral key would be used",
            fix,
        )
    if mode & 0o077:
        return Finding(FAIL, item, "readable by group or others", f"chmod 600 {path}")
    return Finding(OK, item, "readable")


def check_checkpoint_dir() -> Finding:
    """The directory for checkpoint files, when one is set, exists (or can be made) and is writable."""
    configured = read_str(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR)
    if not configured:
        return Finding(
            INFO,
            "checkpoint directory",
            f"not set: checkpoints are kept in the sink only ({OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR})",
        )
    path = Path(configured).expanduser()
    item = f"checkpoint directory {path} ({OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR})"
    fix = f"create it writable by this user, or set {OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR}"
    if not path.exists():
        return _new_file(item, path, "created by the first writer", fix)
    if not path.is_dir():
        return Finding(FAIL, item, "not a directory", fix)
    if not os.access(path, os.W_OK | os.X_OK):
        return Finding(FAIL, item, "this user may not create files in it", fix)
    return Finding(OK, item, "writable")


def check_integrations() -> list[Finding]:
    """Which framework integrations will patch their library (found installed and not disabled)."""
    from opentelemetry_instrumentation_toolaudit.integrations import all_integrations

    disabled = {n.strip().lower() for n in read_list(OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS)}
    modules: dict[str, list[str]] = {}
    for integration in all_integrations():
        modules.setdefault(integration.name, []).append(integration.module)
    out = []
    for name, names in modules.items():
        item = f"integration {name}"
        if name in disabled:
            detail = f"disabled ({OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS})"
        elif any(_installed(module) for module in names):
            detail = "loads when the app imports it"
        else:
            detail = "its library is not installed"
        out.append(Finding(INFO, item, detail))
    return out


def _installed(module: str) -> bool:
    """Whether ``module``'s package is installed, found without importing the framework itself."""
    parts = module.split(".")
    # Namespace packages shared by many distributions: look one level further in.
    depth = {"google": 2, "opentelemetry": 3}.get(parts[0], 1)
    try:
        return importlib.util.find_spec(".".join(parts[:depth])) is not None
    except (ImportError, ValueError):
        return False


def _new_file(
    item: str, path: Path, when: str, fix: str, *, creates_parents: bool = True
) -> Finding:
    """A file or directory that does not exist yet: fine when its parent lets this user make it
    (a sink file's own directory must exist: the writer does not create it)."""
    parent = path.parent
    if not creates_parents and not parent.is_dir():
        return Finding(
            FAIL,
            item,
            f"its directory {parent} does not exist, and the writer does not create it",
            f"create it (mkdir -p {parent}), or {fix}",
        )
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Finding(OK, item, f"does not exist yet: {when}")
    return Finding(FAIL, item, f"does not exist and this user may not create it in {parent}", fix)
