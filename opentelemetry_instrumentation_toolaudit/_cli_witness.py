# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The CLI's witness and interoperability commands, registered on ``toolaudit``'s subparsers.

- ``toolaudit witness``: run a C2SP tlog-witness that cosigns the checkpoints of the logs it is
  given the keys of.
- ``toolaudit consistency SINK OLD [NEW]``: a consistency proof between two signed checkpoints.
- ``toolaudit export-tree SINK``: every leaf hash and signed checkpoint, for a verifier that
  rebuilds the tree on its own (``interop/go``).
- ``toolaudit prove --format tlog-proof``; ``toolaudit check-proof`` reads that format too, and
  with ``--witness KEY [--quorum N]`` requires cosignatures on the proof's checkpoint.
- ``toolaudit verify --witness KEY [--quorum N]``: require witness cosignatures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(commands: Any) -> None:
    """Add this module's commands and options to the ``toolaudit`` subparsers."""
    verify = commands.choices["verify"]
    verify.add_argument(
        "--witness",
        metavar="KEY",
        action="append",
        help="a witness's verifier key (file or text) whose cosignature counts toward --quorum "
        "(repeat for several); the latest checkpoint must carry the quorum",
    )
    verify.add_argument(
        "--quorum",
        metavar="N",
        type=_positive,
        help="how many of the --witness keys must have cosigned the latest checkpoint "
        "(default: all of them)",
    )
    check = commands.choices["check-proof"]
    check.add_argument(
        "--witness",
        metavar="KEY",
        action="append",
        help="a witness's verifier key (file or text) whose cosignature on the proof's checkpoint "
        "counts toward --quorum (repeat for several)",
    )
    check.add_argument(
        "--quorum",
        metavar="N",
        type=_positive,
        help="how many of the --witness keys must have cosigned the proof's checkpoint "
        "(default: all of them)",
    )
    prove = commands.choices["prove"]
    prove.add_argument(
        "--format",
        choices=("json", "tlog-proof"),
        default="json",
        help="json (default), or the C2SP tlog-proof text format (c2sp.org/tlog-proof@v1), "
        "which carries the record as its extra data",
    )

    consistency = commands.add_parser(
        "consistency",
        help="print a consistency proof between two signed checkpoints (JSON on stdout)",
        description="Print a JSON consistency proof (RFC 9162) that the log's signed checkpoint "
        "for OLD records is a prefix of its signed checkpoint for NEW records (default: the "
        "latest); both signed notes are included, so it is checked with the public key alone.",
    )
    consistency.add_argument("sink", metavar="SINK", help="sink URL or file path")
    consistency.add_argument("old", type=_size, metavar="OLD", help="the older checkpoint's size")
    consistency.add_argument(
        "new", type=_size, metavar="NEW", nargs="?", help="the newer checkpoint's size"
    )
    consistency.set_defaults(handler=_consistency)

    export = commands.add_parser(
        "export-tree",
        help="print every leaf hash and signed checkpoint of a log (JSON on stdout)",
        description="Print the log's Merkle leaf hashes and its stored signed checkpoints as "
        "JSON, for a verifier that rebuilds the tree itself (interop/go).",
    )
    export.add_argument("sink", metavar="SINK", help="sink URL or file path")
    export.add_argument(
        "--entries",
        action="store_true",
        help="include each record's canonical bytes (base64), so the verifier hashes them itself",
    )
    export.set_defaults(handler=_export_tree)

    witness = commands.add_parser(
        "witness",
        help="run a witness (C2SP tlog-witness) that cosigns consistent checkpoints",
        description="Serve POST /add-checkpoint (c2sp.org/tlog-witness): cosign a log's "
        "checkpoint only when it is signed by a --log-key and consistent with the last one "
        "cosigned for its origin (kept in --state). Prints the witness's verifier key on stdout. "
        "Needs the witness extra.",
    )
    witness.add_argument(
        "--key",
        metavar="FILE",
        required=True,
        help="the witness's signing key; created when absent (its verifier key in FILE.pub)",
    )
    witness.add_argument(
        "--state", metavar="DIR", required=True, help="where the witness keeps what it cosigned"
    )
    witness.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="127.0.0.1:7380",
        help="address to serve on (default 127.0.0.1:7380; port 0 picks a free one)",
    )
    witness.add_argument(
        "--log-key",
        metavar="[ORIGIN=]KEY",
        action="append",
        required=True,
        help="a log's verifier key (file or text); with ORIGIN=, only checkpoints of that "
        "origin, else of the key's name or <key name>/<log id> (repeat for several logs)",
    )
    witness.add_argument(
        "--name",
        metavar="NAME",
        help="the witness's key name when --key is created (default toolaudit-witness/<host>)",
    )
    witness.add_argument(
        "--tls-cert", metavar="FILE", help="TLS certificate chain (PEM): serve HTTPS"
    )
    witness.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    witness.set_defaults(handler=_witness)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a tree size: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a tree size is 0 or more, not {value}")
    return value


# --- hooks in the commands of cli.py ----------------------------------------------------------


def check_verify_witnesses(
    args: argparse.Namespace, sink: Any, result: Any
) -> dict[str, Any] | None:
    """With ``verify --witness``: check the quorum on ``sink``'s latest checkpoint, adding a
    problem to ``result`` when it is not met; the report as JSON (None without ``--witness``)."""
    from opentelemetry_instrumentation_toolaudit.witness import check_witnesses
    from opentelemetry_instrumentation_toolaudit.witness._core import Problem, ProblemKind

    keys, quorum = _quorum(args)
    if not keys:
        return None
    report = check_witnesses(sink, keys, quorum, log_id=args.log_id)
    if not report.ok:
        result.problems.append(
            Problem(report.witnessed_size, ProblemKind.WITNESS, report.message())
        )
    elif args.format == "text":
        print(f"  witnesses: {report.message()}", file=sys.stderr)
    return report.to_json()


def _quorum(args: argparse.Namespace) -> tuple[list[Any], int]:
    """The ``--witness`` keys and the ``--quorum`` (default: all of them); usage errors."""
    if not args.witness:
        if args.quorum is not None:
            raise ToolAuditError("--quorum needs --witness keys to count")
        return [], 0
    keys = [_witness_key(spec) for spec in args.witness]
    quorum = args.quorum if args.quorum is not None else len(keys)
    if quorum > len(keys):
        raise ToolAuditError(f"--quorum {quorum} is more than the {len(keys)} --witness keys given")
    return keys, quorum


def check_proof_witnesses(args: argparse.Namespace, note: str) -> None:
    """With ``check-proof --witness``: VerificationError unless the proof's checkpoint carries the
    quorum of valid cosignatures."""
    from opentelemetry_instrumentation_toolaudit.witness import cosignatures

    keys, quorum = _quorum(args)
    if not keys:
        return
    found = cosignatures(note, keys)
    if len(found) < quorum:
        names = ", ".join(c.name for c in found) or "none"
        raise VerificationError(
            f"the proof's checkpoint has {len(found)} valid witness cosignature(s) ({names}), "
            f"{quorum} required"
        )


def print_proof(args: argparse.Namespace, proof: Any) -> None:
    """``prove``'s output in the ``--format`` asked for."""
    if args.format == "tlog-proof":
        from opentelemetry_instrumentation_toolaudit.witness import to_tlog_proof

        sys.stdout.write(to_tlog_proof(proof))
    else:
        print(json.dumps(proof.to_json(), indent=2))


def read_tlog_proof(data: bytes, record: bytes | None) -> Any:
    """A tlog-proof given to ``check-proof`` as an InclusionProof; None when ``data`` is not one."""
    from opentelemetry_instrumentation_toolaudit.witness._formats import (
        from_tlog_proof,
        is_tlog_proof,
    )

    if not is_tlog_proof(data):
        return None
    return from_tlog_proof(data.decode("utf-8"), record=record)


# --- new commands -----------------------------------------------------------------------------


def _witness_key(spec: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.witness import CosignerVerifier

    text = spec
    if "+" not in spec:
        try:
            with open(os.path.expanduser(spec), encoding="utf-8") as f:
                text = f.read()
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or "not a text file"
            raise ToolAuditError(f"witness key {spec}: {why}") from None
    try:
        return CosignerVerifier.from_vkey(text)
    except VerificationError as exc:
        raise ToolAuditError(f"witness key: {exc}") from None


def _open(target: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.cli import _open as open_sink

    return open_sink(target)


def _consistency(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.witness import consistency_document

    with _open(args.sink) as sink:
        try:
            document = consistency_document(sink, args.old, args.new)
        except VerificationError as exc:
            print(f"FAIL: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(json.dumps(document, indent=2))
    print(
        f"OK: consistency proof from size {document['old_size']} to {document['new_size']} "
        f"({len(document['proof'])} hashes)",
        file=sys.stderr,
    )
    return EXIT_OK


def _export_tree(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.witness import tree_document

    with _open(args.sink) as sink:
        document = tree_document(sink, entries=args.entries)
    print(json.dumps(document, indent=1))
    first = document["first"]
    pruned = (
        f" from record #{first} (records #0..#{first - 1} pruned; the pruning checkpoint carries "
        "their Merkle frontier)"
        if first
        else ""
    )
    print(
        f"OK: {len(document['leaf_hashes'])} leaf hashes{pruned}, "
        f"{len(document['checkpoints'])} signed checkpoints",
        file=sys.stderr,
    )
    if first and document["pruning_checkpoint"] is None:
        print(
            f"FAIL: records #0..#{first - 1} are missing and no pruning checkpoint covers them: "
            "run `toolaudit verify`",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _log_key(spec: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.witness import LogKey
    from opentelemetry_instrumentation_toolaudit.witness._core import load_verifier

    try:
        if "+" in spec:
            return LogKey.parse(spec)
        return LogKey(load_verifier(spec))
    except VerificationError as exc:
        raise ToolAuditError(f"--log-key {spec}: {exc}") from None
    except ValueError:
        raise ToolAuditError(f"--log-key {spec}: not a verifier key (not UTF-8 text)") from None


def _witness(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from opentelemetry_instrumentation_toolaudit.witness._server import bind, check_tls, serve
    except ImportError:
        raise ToolAuditError(
            "the witness needs Starlette and uvicorn: "
            "pip install 'opentelemetry-instrumentation-toolaudit[witness]'"
        ) from None
    from opentelemetry_instrumentation_toolaudit.witness import Cosigner, Witness, WitnessState

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ToolAuditError("--tls-cert and --tls-key go together")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    if tls is not None:
        check_tls(*tls)

    log_keys = [_log_key(spec) for spec in args.log_key]
    name = args.name or f"toolaudit-witness/{socket.gethostname() or 'localhost'}"
    cosigner, created = Cosigner.from_file(args.key, name.replace(" ", "-"))
    if created:
        print(f"toolaudit witness: created the witness key {args.key}", file=sys.stderr)
    state = WitnessState(args.state)
    try:
        try:
            sock = bind(args.listen)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or "expected HOST:PORT"
            raise ToolAuditError(f"cannot listen on {args.listen}: {why}") from None
        host, port = sock.getsockname()[:2]
        scheme = "https" if tls else "http"

        def ready() -> None:
            print(cosigner.verifier.vkey(), flush=True)
            print(
                f"toolaudit witness: {cosigner.name} listening on {scheme}://{host}:{port} "
                f"for {len(log_keys)} log key(s), state in {args.state}",
                file=sys.stderr,
                flush=True,
            )

        try:
            # uvicorn stops gracefully on SIGINT and SIGTERM.
            serve(Witness(cosigner, log_keys, state), sock, ready, tls=tls)
        finally:
            sock.close()
    finally:
        state.close()
    return EXIT_OK


__all__ = [
    "check_proof_witnesses",
    "check_verify_witnesses",
    "print_proof",
    "read_tlog_proof",
    "register",
]
