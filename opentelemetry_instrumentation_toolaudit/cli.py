# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The ``toolaudit`` command line: the only code in this package that prints or exits.

Exit codes: 0 ok, 1 a check failed (a broken trail, a bad proof), 2 usage error or unreadable input
(a missing, unreadable or corrupt sink, key or proof file), 141 stdout was closed early (``toolaudit
prove … | head -1``: as git and other pipeline tools killed by SIGPIPE, quietly, and never 0, so a
failed check is not mistaken for success). The verdict of ``verify`` and ``check-proof`` goes to
stdout (``OK: …`` / ``FAIL: …``), or with ``--format json`` their JSON does and the verdict line goes
to stderr; ``prove`` prints its proof on stdout and its summary on stderr. Error messages never show
a password of a sink URL.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from opentelemetry_instrumentation_toolaudit import _cli_compliance, _cli_lifecycle, _cli_witness
from opentelemetry_instrumentation_toolaudit._cli_serve import add_serve_command
from opentelemetry_instrumentation_toolaudit._env import read_str
from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR,
    OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import path_from_url, redact_url
from opentelemetry_instrumentation_toolaudit.version import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""What a shell reports for git, cat or seq when the reader of their output goes away."""


class _UsageError(Exception):
    """Bad input the user must fix: exit 2 with this message."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like the CLI's own: what is wrong and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands register themselves here."""
    parser = _Parser(
        prog="toolaudit",
        description="Verify a toolaudit audit trail, and prove or check that a record is in it.",
    )
    parser.add_argument("--version", action="version", version=f"toolaudit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    verify = commands.add_parser(
        "verify",
        help="check every record, link, column and signed checkpoint of a trail",
        description="Exit 0 and 'OK: N records, root …' when the trail is intact ('OK "
        "(self-attested: …)' when the key was found on this machine rather than pinned), 1 and "
        "'FAIL: record #i: what' naming the first bad record, 2 when the sink cannot be read.",
    )
    _sink_argument(verify)
    verify.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help=f"also check the checkpoints in DIR (default: ${OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR} "
        "when set, as the writer uses it)",
    )
    verify.add_argument(
        "--public-key",
        metavar="KEY",
        action="append",
        help="pinned verifier key (file or text) that must have signed the checkpoints (repeat "
        f"for several); default: the keys in the file ${OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS}, else "
        "the writer's <signing key>.pub on this machine (self-attested, not pinned)",
    )
    verify.add_argument(
        "--log-id",
        metavar="ID",
        help="the id this log must have (the OK line prints it; note it when the trail is set up): "
        "a replaced trail fails, and checkpoints of other logs sharing DIR are ignored",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")

    prove = commands.add_parser(
        "prove",
        help="print an inclusion proof for one record (JSON on stdout)",
        description="Print a JSON inclusion proof for record SEQ against the latest signed checkpoint "
        "that covers it; `toolaudit check-proof` checks it without the log.",
    )
    _sink_argument(prove)
    prove.add_argument(
        "seq", type=_sequence_number, metavar="SEQ", help="the record's sequence number (0, 1, …)"
    )

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
    check.add_argument("--format", choices=("text", "json"), default="text")

    doctor = commands.add_parser(
        "doctor",
        help="check a writer's configuration (sink, keys, checkpoint directory, integrations)",
        description="Check what a writer started with this environment (OTEL_PYTHON_TOOLAUDIT_*) "
        "would use: the sink is reachable and this process may append to it, the signing and "
        "hash keys are readable, the checkpoint directory is writable, and which framework "
        "integrations will load. Creates nothing (the sink is opened read-only). Exit 0 when all "
        "is well, 1 when something must be fixed (each failure says what to do).",
    )
    doctor.add_argument(
        "--sink", metavar="SINK", help="the sink URL to check instead of OTEL_PYTHON_TOOLAUDIT_SINK"
    )
    doctor.add_argument("--format", choices=("text", "json"), default="text")
    report = commands.add_parser(
        "report",
        help="reports for review: access (who accessed one subject's records), break-glass",
        description="`toolaudit report access SINK --subject S`: who accessed one subject's "
        "records, with the trail's integrity; `toolaudit report break-glass SINK`: every "
        "break-the-glass use, for review.",
    )
    reports = report.add_subparsers(dest="report", metavar="REPORT", required=True)
    _cli_compliance.register(commands, reports)
    _cli_witness.register(commands)  # witness, consistency, export-tree; verify/prove options
    add_serve_command(commands)
    from opentelemetry_instrumentation_toolaudit._cli_query import add_query_commands

    add_query_commands(commands, reports)
    for name in ("search", "show", "timeline", "stats", "export", "tail"):
        _cli_compliance.add_log_access_option(commands.choices[name])
    _cli_compliance.add_log_access_option(reports.choices["access"])
    _cli_lifecycle.register(commands)
    return parser


def _sequence_number(text: str) -> int:
    """A record's sequence number: a decimal integer >= 0 (argparse reports anything else)."""
    try:
        seq = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a record sequence number: {text!r}") from None
    if seq < 0:
        raise argparse.ArgumentTypeError(f"a record sequence number is 0 or more, not {seq}")
    return seq


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
    handler = getattr(args, "handler", None) or {
        "verify": _verify,
        "prove": _prove,
        "check-proof": _check_proof,
        "doctor": _doctor,
    }.get(args.command, getattr(args, "run", _no_command))
    try:
        _cli_compliance.log_access(args)
        code = handler(args)
        sys.stdout.flush()  # a closed stdout shows here, not as "Exception ignored" at exit
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except (_UsageError, ToolAuditError) as exc:
        return _error(args.command, str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(args.command, f"{where}{exc.strerror or type(exc).__name__}")
    except Exception as exc:  # noqa: BLE001 - a CLI answers with a message, never a traceback
        return _error(args.command, f"unexpected {type(exc).__name__}; please report it")


def _no_command(args: argparse.Namespace) -> int:
    raise _UsageError(f"unknown command {args.command}")


def _error(command: str, message: str) -> int:
    """One line on stderr (passwords in URLs masked); the usage/unreadable-input exit code."""
    print(f"toolaudit {command}: error: {redact_url(message)}", file=sys.stderr)
    return EXIT_USAGE


def _stdout_closed() -> int:
    """The reader of stdout went away: end quietly. Pointing stdout at /dev/null stops the
    interpreter's final flush from failing again ("Exception ignored ... BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout without a file descriptor: nothing left to flush to
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _open(target: str) -> Any:
    """The sink a user named, read-only; a usage error for an empty name or a directory."""
    from opentelemetry_instrumentation_toolaudit.ledger.stores import open_sink, sink_url_for

    if not target.strip():
        raise _UsageError("SINK is empty: give a sink URL or a file path")
    if (archive := _cli_lifecycle.open_archive(target)) is not None:
        return archive
    url = sink_url_for(target)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("sqlite", "jsonl"):
        path = path_from_url(url, scheme)
        if os.path.isdir(path):
            raise _UsageError(f"{path}: is a directory, not a {scheme} sink file")
    return open_sink(url, create=False)


def _default_public_key() -> str | None:
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
        default_key_path,
        public_key_path,
    )

    path = public_key_path(default_key_path())
    return str(path) if path.exists() else None


def _load_key(spec: str) -> Any:
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import load_verifier

    what = "public key"
    if os.path.exists(os.path.expanduser(spec)):
        what = f"public key {spec}"
    try:
        return load_verifier(spec)
    except VerificationError as exc:
        raise _UsageError(f"{what}: {exc}") from None
    except ValueError:  # UnicodeDecodeError: a binary file
        raise _UsageError(f"{what}: not a verifier key (not UTF-8 text)") from None


def _trusted_keys(args: argparse.Namespace) -> tuple[list[Any], bool, str | None]:
    """The keys verify trusts, whether they are pinned, and where they came from: ``--public-key``,
    else the trusted-keys file, else the writer's ``.pub`` on this machine (self-attested)."""
    if args.public_key:
        return [_load_key(spec) for spec in args.public_key], True, "--public-key"
    trusted = read_str(OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS)
    if trusted:
        from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import load_trusted_keys

        try:
            keys = load_trusted_keys(trusted)
        except VerificationError as exc:
            raise _UsageError(f"{exc} (set by {OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS})") from None
        return keys, True, f"{OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS} ({trusted})"
    found = _default_public_key()
    if found:
        return [_load_key(found)], False, found
    return [], False, None


def _checkpoint_dir(args: argparse.Namespace) -> str | None:
    """``--checkpoint-dir``, else the writer's ``OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR``; a usage
    error when the one named is not a directory."""
    directory, source = args.checkpoint_dir, "checkpoint directory"
    if not directory:
        directory = read_str(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR) or None
        source = f"checkpoint directory (set by {OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR})"
    if directory and not os.path.isdir(directory):
        why = "not a directory" if os.path.exists(directory) else "no such directory"
        raise _UsageError(f"{source} {directory}: {why}")
    return directory


def _verify(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.ledger._verify import verify

    keys, pinned, key_source = _trusted_keys(args)
    checkpoint_dir = _checkpoint_dir(args)
    with _open(args.sink) as sink:
        result = verify(
            sink,
            public_key=keys or None,
            checkpoint_dir=checkpoint_dir,
            log_id=args.log_id,
            key_pinned=pinned,
        )
        witnesses = _cli_witness.check_verify_witnesses(args, sink, result)
    if args.format == "json":
        document = result.to_json()
        document["witnesses"] = witnesses
        document["key_source"] = key_source
        document["checkpoint_dir"] = checkpoint_dir
        print(json.dumps(document, indent=2))
        print(result.summary(), file=sys.stderr)
    else:
        print(result.summary())
        own = [p for p in result.problems if p.cause is None]
        for problem in own[1:10]:
            print(f"  also: record #{problem.seq}: {problem.message}", file=sys.stderr)
        if len(own) > 10:
            print(f"  ... {len(own) - 10} more (see --format json)", file=sys.stderr)
        if result.follow_ons:
            print(
                f"  {result.follow_ons} later checks fail only because of the above "
                "(see --format json)",
                file=sys.stderr,
            )
    if keys and not pinned:
        print(
            f"  key: {key_source}, found beside the writer's signing key: whoever can rewrite "
            f"the trail here can replace it too; pin the key with --public-key or "
            f"{OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS}",
            file=sys.stderr,
        )
    for repair in result.repairs:
        print(f"  repaired: {repair}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def _prove(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.ledger._proof import prove

    with _open(args.sink) as sink:
        _check_in_range(sink, args.seq)
        try:
            proof = prove(sink, args.seq)
        except VerificationError as exc:
            print(f"FAIL: record #{args.seq}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    _cli_witness.print_proof(args, proof)
    print(
        f"OK: inclusion proof for record #{proof.seq} in the signed tree of {proof.tree_size} records "
        f"({len(proof.path)} hashes)",
        file=sys.stderr,
    )
    return EXIT_OK


def _check_in_range(sink: Any, seq: int) -> None:
    """A usage error for a record past the end of the log that no signed checkpoint covers either.
    (One a checkpoint covers but the log lacks is left to ``prove``: a failed check, exit 1.)"""
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import readable_checkpoints

    size = sink.size()
    if seq < size:
        return
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    signed = max((checkpoint.size for checkpoint, _ in readable), default=0)
    if seq >= signed:
        held = f"{size} records (#0..#{size - 1})" if size else "no records"
        raise _UsageError(f"record #{seq} is out of range: {redact_url(sink.url)} holds {held}")


def _read_input(what: str, path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"{what} {path}: {exc.strerror}") from None


def _check_proof(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.ledger._proof import InclusionProof, check_proof

    key = _load_key(args.public_key)
    where = "stdin" if args.proof == "-" else args.proof
    data = _read_input("proof file", args.proof)
    record = _read_input("record file", args.record) if args.record else None
    try:
        proof = _cli_witness.read_tlog_proof(data, record)  # None unless c2sp.org/tlog-proof@v1
        if proof is None:
            document = json.loads(data)
            if not isinstance(document, dict):
                raise ValueError(f"a JSON {type(document).__name__}, not an object")
            proof = InclusionProof.from_json(document)
    except (ValueError, RecursionError, VerificationError) as exc:
        raise _UsageError(f"proof file {where}: not an inclusion proof ({exc})") from None
    verdict: dict[str, Any] = {"ok": True, "seq": proof.seq}
    try:
        checkpoint = check_proof(proof, key, record=record)
        _cli_witness.check_proof_witnesses(args, proof.checkpoint)  # --witness, --quorum
    except VerificationError as exc:
        verdict.update(ok=False, error=str(exc))
        summary = f"FAIL: record #{proof.seq}: {exc}"
    else:
        verdict.update(
            origin=checkpoint.origin, tree_size=checkpoint.size, root=checkpoint.root.hex()
        )
        summary = (
            f"OK: record #{proof.seq} is in the log {checkpoint.origin} of {checkpoint.size} "
            f"records, root {checkpoint.root.hex()}"
        )
    # As for verify: the verdict on stdout; with --format json, the JSON there and this on stderr.
    if args.format == "json":
        print(json.dumps(verdict, indent=2))
        print(summary, file=sys.stderr)
    else:
        print(summary)
    return EXIT_OK if verdict["ok"] else EXIT_FAILED


def _doctor(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit._doctor import FAIL, diagnose

    findings = diagnose(args.sink)
    failed = [f for f in findings if f.status == FAIL]
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(f) for f in findings], indent=2))
    else:
        for finding in findings:
            print(f"{finding.status.upper():<5} {finding.item}: {finding.detail}")
            if finding.fix:
                print(f"      fix: {finding.fix}")
    if failed:
        print(f"doctor: {len(failed)} problem(s) to fix", file=sys.stderr)
        return EXIT_FAILED
    print("doctor: OK: this configuration can write the audit trail", file=sys.stderr)
    return EXIT_OK


def main_entry(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        try:
            code: int | str | None = main(list(argv) if argv is not None else None)
        except SystemExit as exc:  # argparse: --help, --version and usage errors
            code = exc.code
        sys.stdout.flush()
    except BrokenPipeError:
        code = _stdout_closed()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main_entry()
