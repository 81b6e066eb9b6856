"""The ``toolaudit`` command line: the only code in this package that prints or exits.

Exit codes: 0 ok, 1 a check failed (a broken trail, a bad proof), 2 usage error or unreadable input
(a missing, unreadable or corrupt sink, key or proof file). Human summaries go to stderr, machine
output (``--format json``, proofs) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit.version import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """Bad input the user must fix: exit 2 with this message."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands register themselves here."""
    parser = argparse.ArgumentParser(
        prog="toolaudit", description="Verify, query and report on a toolaudit audit trail."
    )
    parser.add_argument("--version", action="version", version=f"toolaudit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    verify = commands.add_parser(
        "verify",
        help="check every record, link, column and signed checkpoint of a trail",
        description="Exit 0 and 'OK: N records, root …' when the trail is intact, 1 and "
        "'FAIL: record #i: what' naming the first bad record, 2 when the sink cannot be read.",
    )
    _sink_argument(verify)
    verify.add_argument("--checkpoint-dir", metavar="DIR", help="also check the checkpoints in DIR")
    verify.add_argument(
        "--public-key",
        metavar="KEY",
        help="verifier key (file or text) that must have signed the checkpoints; default: the "
        "writer's <signing key>.pub when it exists on this machine",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")

    prove = commands.add_parser(
        "prove",
        help="print an inclusion proof for one record (JSON on stdout)",
        description="Print a JSON inclusion proof for record SEQ against the latest signed checkpoint "
        "that covers it; `toolaudit check-proof` checks it without the log.",
    )
    _sink_argument(prove)
    prove.add_argument("seq", type=int, metavar="SEQ", help="the record's sequence number")

    check = commands.add_parser(
        "check-proof",
        help="check an inclusion proof offline (needs only the proof and the public key)",
    )
    check.add_argument(
        "proof", metavar="PROOF", help="a proof file from `toolaudit prove` ('-' for stdin)"
    )
    check.add_argument(
        "--public-key", metavar="KEY", required=True, help="the log's verifier key (file or text)"
    )
    check.add_argument(
        "--record", metavar="FILE", help="the record's canonical bytes, if not the proof's copy"
    )
    return parser


def _sink_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sink",
        metavar="SINK",
        help="sink URL (sqlite:///toolaudit.db, jsonl:///audit.jsonl, postgresql://…) or a file path",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 check failed, 2 usage or unreadable input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    handler = {"verify": _verify, "prove": _prove, "check-proof": _check_proof}[args.command]
    try:
        return handler(args)
    except (_UsageError, ToolAuditError) as exc:
        print(f"toolaudit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"toolaudit {args.command}: error: {exc.filename or ''}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a CLI answers with a message, never a traceback
        print(
            f"toolaudit {args.command}: error: unexpected {type(exc).__name__}; please report it",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _open(target: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.audit.sinks import open_sink, sink_url_for

    return open_sink(sink_url_for(target), create=False)


def _default_public_key() -> str | None:
    from opentelemetry_instrumentation_toolaudit.audit._checkpoint import (
        default_key_path,
        public_key_path,
    )

    path = public_key_path(default_key_path())
    return str(path) if path.exists() else None


def _load_key(spec: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.audit._checkpoint import load_verifier

    try:
        return load_verifier(spec)
    except VerificationError as exc:
        raise _UsageError(f"public key: {exc}") from None


def _verify(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.audit._verify import verify

    key_spec = args.public_key or _default_public_key()
    key = _load_key(key_spec) if key_spec else None
    if args.checkpoint_dir and not os.path.isdir(args.checkpoint_dir):
        raise _UsageError(f"checkpoint directory {args.checkpoint_dir}: no such directory")
    with _open(args.sink) as sink:
        result = verify(sink, public_key=key, checkpoint_dir=args.checkpoint_dir)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2))
        print(result.summary(), file=sys.stderr)
    else:
        print(result.summary())
        for problem in result.problems[1:10]:
            print(f"  also: record #{problem.seq}: {problem.message}", file=sys.stderr)
    for repair in result.repairs:
        print(f"  repaired: {repair}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def _prove(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.audit._proof import prove

    with _open(args.sink) as sink:
        try:
            proof = prove(sink, args.seq)
        except VerificationError as exc:
            print(f"FAIL: record #{args.seq}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(json.dumps(proof.to_json(), indent=2))
    print(
        f"OK: inclusion proof for record #{proof.seq} in the signed tree of {proof.tree_size} records "
        f"({len(proof.path)} hashes)",
        file=sys.stderr,
    )
    return EXIT_OK


def _read_input(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"{path}: {exc.strerror}") from None


def _check_proof(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.audit._proof import InclusionProof, check_proof

    key = _load_key(args.public_key)
    try:
        proof = InclusionProof.from_json(json.loads(_read_input(args.proof)))
    except (ValueError, RecursionError, VerificationError) as exc:
        raise _UsageError(f"{args.proof}: not an inclusion proof ({exc})") from None
    record = _read_input(args.record) if args.record else None
    try:
        checkpoint = check_proof(proof, key, record=record)
    except VerificationError as exc:
        print(f"FAIL: record #{proof.seq}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"OK: record #{proof.seq} is in the log {checkpoint.origin} of {checkpoint.size} records, "
        f"root {checkpoint.root.hex()}",
        file=sys.stderr,
    )
    return EXIT_OK


def main_entry(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(main(list(argv) if argv is not None else None))


if __name__ == "__main__":  # pragma: no cover
    main_entry()
