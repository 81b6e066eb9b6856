# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The writer's side of witnessing: each new checkpoint is sent to the configured witnesses
(c2sp.org/tlog-witness ``add-checkpoint``) and the cosignatures they return are stored.

Submission runs on a background thread, so the app never waits for a witness: ``submit`` only
hands over the note. Only the newest checkpoint waiting is sent (a witness vouches for the latest
state; a cosignature on it covers every earlier record). For each witness the request carries a
consistency proof from the size that witness last cosigned: found among the cosignatures already
stored, and learned from its 409 answer (``text/x.tlog.size``) when that is stale. The cosigned
checkpoint is stored in the sink as one more checkpoint note for the same size: the log's note
with the witnesses' cosignature lines appended, as C2SP signed notes allow. A witness that cannot
be reached, times out or refuses is logged once and counted (``error_counts()``), never raised.

A witness that last cosigned a size below a pruning cut cannot be given a consistency proof any
more (the records it needs are gone, and the stored Merkle nodes do not cover every subtree such a
proof needs): each submission to it is such a failure. ``toolaudit retention apply
--prune-prefix`` therefore has every configured witness cosign a checkpoint at or past the cut
before it removes anything (:meth:`WitnessSubmitter.behind`).
"""

from __future__ import annotations

import base64
import dataclasses
import os
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from urllib.parse import unquote

from opentelemetry_instrumentation_toolaudit._env import read_float, read_path
from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE,
    OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT,
    OTEL_PYTHON_TOOLAUDIT_WITNESSES,
)
from opentelemetry_instrumentation_toolaudit.witness._core import (
    AuditSink,
    Checkpoint,
    Pruning,
    consistency_proof,
    open_checkpoint,
    readable_checkpoints,
    redact_url,
    reinit_in_forked_child,
)
from opentelemetry_instrumentation_toolaudit.witness._cosign import (
    CosignerVerifier,
    add_signature_lines,
    cosignatures,
)

DEFAULT_TIMEOUT = 5.0
_ATTEMPTS = 3
_SUBMISSION = "witness submission"


@dataclasses.dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the writer submits to: its ``add-checkpoint`` base URL and its verifier key."""

    url: str
    verifier: CosignerVerifier

    def request(self, body: bytes) -> urllib.request.Request:
        """The ``POST <url>/add-checkpoint`` request; a user and password in the URL are sent as
        HTTP basic authentication (for a witness behind an authenticating proxy)."""
        parts = urllib.parse.urlsplit(self.url.rstrip("/") + "/add-checkpoint")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        return urllib.request.Request(
            urllib.parse.urlunsplit(parts), data=body, method="POST", headers=headers
        )


def parse_witnesses(text: str) -> list[WitnessEndpoint]:
    """``URL=VKEY[,URL=VKEY...]`` (the format of ``OTEL_PYTHON_TOOLAUDIT_WITNESSES``);
    ToolAuditError naming the malformed item (by position: a URL may hold a password)."""
    out = []
    for number, item in enumerate((i.strip() for i in text.split(",")), 1):
        if not item:
            continue
        url, sep, vkey = item.rpartition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ToolAuditError(
                f"{OTEL_PYTHON_TOOLAUDIT_WITNESSES}: item {number} is not URL=VKEY "
                "(an http:// or https:// URL, '=', the witness's verifier key)"
            )
        try:
            out.append(WitnessEndpoint(url, CosignerVerifier.from_vkey(vkey)))
        except VerificationError as exc:
            raise ToolAuditError(
                f"{OTEL_PYTHON_TOOLAUDIT_WITNESSES}: item {number}: {exc}"
            ) from None
    return out


def witnesses_from_env() -> tuple[list[WitnessEndpoint], float]:
    """The witnesses in ``OTEL_PYTHON_TOOLAUDIT_WITNESSES`` and the timeout of one request."""
    witnesses = parse_witnesses(os.environ.get(OTEL_PYTHON_TOOLAUDIT_WITNESSES, ""))
    timeout = read_float(OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT, DEFAULT_TIMEOUT, minimum=0.001)
    return witnesses, timeout


def tls_context_from_env() -> ssl.SSLContext | None:
    """The TLS context for ``https://`` witnesses when ``OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE``
    names a CA file (trusted besides the system's CA certificates); None when it is unset.
    ToolAuditError when the file cannot be read or holds no certificate."""
    path = read_path(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE)
    if path is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        raise ToolAuditError(
            f"{OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE}: {path} holds no PEM certificate"
        ) from None
    except OSError as exc:
        raise ToolAuditError(
            f"{OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE}: cannot read {path}: {exc.strerror}"
        ) from None
    return context


def submitter_for(
    sink: AuditSink, witnesses: Sequence[WitnessEndpoint] | None
) -> WitnessSubmitter | None:
    """The submitter an AuditLog on ``sink`` uses: for ``witnesses`` if given, else for those in
    ``OTEL_PYTHON_TOOLAUDIT_WITNESSES``; None when there are none. ``https://`` witnesses are
    checked against the system's CA certificates and ``OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE``."""
    timeout = DEFAULT_TIMEOUT
    if witnesses is None:
        witnesses, timeout = witnesses_from_env()
    if not witnesses:
        return None
    return WitnessSubmitter(sink, witnesses, timeout=timeout, context=tls_context_from_env())


class _RefusedError(Exception):
    """A witness answered, but with no cosignature."""


class WitnessSubmitter:
    """Sends checkpoints of ``sink`` to ``witnesses`` on a background thread and stores the
    cosigned notes in ``sink``. ``timeout`` bounds each HTTP request; ``context`` checks the
    certificates of ``https://`` witnesses (default: the system's CA certificates)."""

    def __init__(
        self,
        sink: AuditSink,
        witnesses: Sequence[WitnessEndpoint],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.sink = sink
        self.witnesses = list(witnesses)
        self.timeout = timeout
        self.context = context
        self.cosigned = 0
        """Checkpoints stored with at least one new cosignature."""
        self.failures = 0
        """Submissions to one witness that brought no cosignature."""
        self._sizes: dict[WitnessEndpoint, int] = {}
        self._after_fork()
        reinit_in_forked_child(self, "_after_fork")

    def _after_fork(self) -> None:
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, note: str) -> None:
        """Queue a signed checkpoint note for the witnesses; returns at once."""
        with self._cond:
            if self._closed:
                return
            self._pending = note
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="toolaudit-witness", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued checkpoint was submitted (at most ``timeout`` seconds, by
        default two request timeouts); whether it was."""
        deadline = time.monotonic() + (2 * self.timeout if timeout is None else timeout)
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Submit what is queued (waiting at most ``timeout``), then stop the thread."""
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if not done:
            internal_error(
                _SUBMISSION,
                ToolAuditError("the last checkpoint was not witnessed before the log closed"),
            )

    def behind(self, size: int) -> list[str]:
        """The (masked) URLs of the witnesses whose last cosigned size, as this submitter knows
        it or the stored cosignatures say, is below ``size``."""
        return [
            redact_url(witness.url)
            for witness in self.witnesses
            if self._sizes.get(witness, self._stored_size(witness)) < size
        ]

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                note, self._pending, self._busy = self._pending, None, True
            try:
                self._submit(note)
            except Exception as exc:  # noqa: BLE001 - the witness thread must survive anything
                internal_error(_SUBMISSION, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _submit(self, note: str) -> None:
        checkpoint, _ = open_checkpoint(note)
        lines: list[str] = []
        for witness in self.witnesses:
            with self._cond:
                if self._closed:
                    return
            try:
                lines += self._ask(witness, checkpoint, note)
            except (_RefusedError, OSError, ToolAuditError, VerificationError) as exc:
                self.failures += 1
                why = str(exc) if isinstance(exc, (_RefusedError, ToolAuditError)) else _reason(exc)
                internal_error(
                    _SUBMISSION, ToolAuditError(f"witness {redact_url(witness.url)}: {why}")
                )
        if lines:
            self.sink.write_checkpoint(add_signature_lines(note, lines), checkpoint.size)
            self.cosigned += 1

    def _ask(self, witness: WitnessEndpoint, checkpoint: Checkpoint, note: str) -> list[str]:
        """The witness's valid cosignature lines on ``note``."""
        old = self._sizes.get(witness)
        if old is None:
            old = self._stored_size(witness)
        for _ in range(_ATTEMPTS):
            if old > checkpoint.size:
                # Another writer of this log had a wider checkpoint cosigned: nothing to add.
                logger.debug(
                    "toolaudit: witness %s is ahead of this checkpoint", redact_url(witness.url)
                )
                return []
            try:
                proof = consistency_proof(old, checkpoint.size, self.sink.subtree_hash)
            except VerificationError as exc:
                raise _RefusedError(self._no_proof(old, exc)) from None
            body = f"old {old}\n" + "".join(_b64(h) + "\n" for h in proof) + "\n" + note
            status, content_type, answer = self._post(witness, body.encode())
            if status == 200:
                self._sizes[witness] = checkpoint.size
                return _valid_lines(answer, note, witness.verifier)
            if status == 409 and content_type.split(";")[0].strip() == "text/x.tlog.size":
                latest = _size(answer)
                if latest is None or latest == old:
                    raise _RefusedError(
                        f"answered 409 for size {checkpoint.size}: it cosigned another "
                        "checkpoint of this size (a fork?)"
                    )
                old = self._sizes[witness] = latest
                continue
            raise _RefusedError(f"answered HTTP {status}")
        raise _RefusedError("kept answering 409")

    def _no_proof(self, old: int, exc: VerificationError) -> str:
        """Why no consistency proof from ``old`` can be built (without the pruning's details,
        which name the OS user who pruned)."""
        readable, _ = readable_checkpoints(self.sink.checkpoints(), self.sink.log_id())
        cuts = []
        for cp, _note in readable:
            try:
                pruning = Pruning.of(cp)
            except VerificationError:
                continue
            if pruning is not None:
                cuts.append(pruning.cut)
        if cuts and old < max(cuts):
            return (
                f"it last cosigned size {old}, below the pruning cut at {max(cuts)}: the records "
                "a consistency proof from there needs are pruned, so it cannot cosign this log "
                "again until its state for the log is reset (have the witnesses cosign a "
                "checkpoint past the cut before pruning)"
            )
        return f"no consistency proof from size {old} ({exc})"

    def _stored_size(self, witness: WitnessEndpoint) -> int:
        """The widest checkpoint size this witness's cosignature is stored on (0 if none)."""
        readable, _ = readable_checkpoints(self.sink.checkpoints(), self.sink.log_id())
        sizes = [cp.size for cp, n in readable if cosignatures(n, [witness.verifier])]
        return max(sizes, default=0)

    def _post(self, witness: WitnessEndpoint, body: bytes) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(
                witness.request(body), timeout=self.timeout, context=self.context
            ) as response:
                return response.status, response.headers.get("Content-Type", ""), _read(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers.get("Content-Type", ""), _read(error)


def _read(response: object) -> str:
    data = response.read(64 * 1024)  # type: ignore[attr-defined]
    return bytes(data).decode("utf-8", errors="replace")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _size(text: str) -> int | None:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() and len(stripped) <= 20 else None


def _valid_lines(answer: str, note: str, verifier: CosignerVerifier) -> list[str]:
    """The lines of a 200 answer that are valid cosignatures by ``verifier`` on ``note``; a
    _RefusedError when there is none."""
    good = []
    for line in answer.splitlines():
        try:
            if cosignatures(add_signature_lines(note, [line]), [verifier]):
                good.append(line)
        except VerificationError:
            continue
    if not good:
        raise _RefusedError("answered 200 without a valid cosignature by its key")
    return good


def _reason(exc: BaseException) -> str:
    """What went wrong talking to a witness, without its URL (which may hold a password)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            f"its TLS certificate is not trusted ({reason.verify_message}; "
            f"{OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE} names the CA certificates to trust)"
        )
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable ({type(exc.reason).__name__})"
    return type(exc).__name__
