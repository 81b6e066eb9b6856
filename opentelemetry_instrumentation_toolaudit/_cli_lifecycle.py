# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit retention apply`` and ``toolaudit erase``: removing payloads on the record, and
reading an archive as a trail (``toolaudit verify DIR``).

Both commands remove payloads only (record format 2): envelopes, the chain and every checkpoint
stay, so ``verify`` stays green and reports the removed payloads. Each run that removes something
appends an ``admin`` event (what, how many, which sequence numbers, by which OS user; never a
value) and then signs a checkpoint with the writer's key. ``--dry-run`` changes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from typing import Any

from opentelemetry_instrumentation_toolaudit import _cli_prune
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE,
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
)

_PSEUDONYM = re.compile(r"hmac-sha256:[A-Za-z0-9_.-]+:[0-9a-f]{32}")


def register(commands: Any) -> None:
    """Add ``retention`` and ``erase`` to the ``toolaudit`` subcommands."""
    retention = commands.add_parser(
        "retention",
        help="apply the retention policy to a trail (remove expired payloads)",
        description="`toolaudit retention apply SINK`: remove the payloads of records whose "
        "retain_until is past.",
    )
    actions = retention.add_subparsers(dest="retention", metavar="ACTION", required=True)
    apply = actions.add_parser(
        "apply",
        help="remove the payloads of records whose retain_until is before --as-of",
        description="Remove the payloads (arguments, results, details, attribution) of the records "
        "whose retain_until is before --as-of; their envelopes stay, so verify stays green and "
        "reports the removed payloads. A record without retain_until is given one from the policy "
        "and its recorded_at. Records an admin event (categories, count, sequence numbers, OS user) "
        "and signs a checkpoint with the writer's key ($"
        f"{OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE}). Exit 0 when done (or nothing expired), 2 when "
        "the sink cannot be read or written.",
    )
    _sink_argument(apply)
    apply.add_argument(
        "--dry-run", action="store_true", help="print what would be removed and change nothing"
    )
    apply.add_argument(
        "--as-of",
        type=_date,
        metavar="DATE",
        help="remove what expired before DATE (YYYY-MM-DD, UTC); default: today",
    )
    apply.add_argument(
        "--archive",
        metavar="DIR",
        help="first write records 0.. up to the signed checkpoint covering the last expired one, "
        "whole, with their checkpoints, as an archive under DIR (check it with `toolaudit verify "
        "DIR/toolaudit-archive-…`)",
    )
    apply.add_argument(
        "--policy-file",
        metavar="FILE",
        help="the retention TOML file for records without retain_until (default: "
        f"${OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE}, else the built-in periods)",
    )
    _cli_prune.add_option(apply)
    apply.add_argument("--format", choices=("text", "json"), default="text")
    apply.set_defaults(run=_retention_apply)

    erase = commands.add_parser(
        "erase",
        help="remove one subject's payloads (right to erasure)",
        description="Remove the payloads of every record about a subject (its `subject` field); "
        "their envelopes stay, so verify stays green and reports the removed payloads. Records an "
        "admin event naming the subject's pseudonym, the sequence numbers and the (redacted) "
        "reason, then signs a checkpoint. Exit 0 when done (or nothing matched), 2 when the sink "
        "or the keys cannot be read or the sink cannot be written.",
    )
    _sink_argument(erase)
    erase.add_argument(
        "--subject",
        required=True,
        metavar="X",
        help="the subject's value (pseudonymized with the writer's hash key, as `toolaudit "
        "pseudonym` does), its pseudonym (hmac-sha256:…), or '-' to read the value from stdin",
    )
    erase.add_argument(
        "--reason", metavar="TEXT", help="why (recorded in the admin event, redacted)"
    )
    erase.add_argument(
        "--dry-run", action="store_true", help="print what would be removed and change nothing"
    )
    erase.add_argument("--format", choices=("text", "json"), default="text")
    erase.set_defaults(run=_erase)


def open_archive(target: str) -> Any:
    """The archive directory ``target`` as a read-only store, or None when it is not one."""
    from opentelemetry_instrumentation_toolaudit.lifecycle import ArchiveSink, is_archive

    return ArchiveSink(target) if is_archive(target) else None


def _sink_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sink",
        metavar="SINK",
        help="sink URL (sqlite:///toolaudit.db, jsonl:///audit.jsonl, postgresql://…) or a file path",
    )


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


def _policy(args: argparse.Namespace) -> Any:
    from opentelemetry_instrumentation_toolaudit.cli import _UsageError
    from opentelemetry_instrumentation_toolaudit.export._retention import (
        RetentionPolicy,
        RetentionPolicyError,
    )

    if not args.policy_file:
        return RetentionPolicy.from_env()
    try:
        return RetentionPolicy.from_file(args.policy_file)
    except OSError as exc:
        raise _UsageError(f"policy file {args.policy_file}: {exc.strerror}") from None
    except RetentionPolicyError as exc:
        raise _UsageError(f"policy file {args.policy_file}: {exc}") from None


def _open_log(target: str) -> Any:
    """An AuditLog on the existing sink ``target``, signing with the writer's key (never a new
    one: a checkpoint signed by a fresh key would not verify against the pinned one)."""
    from opentelemetry_instrumentation_toolaudit.cli import _open, _UsageError
    from opentelemetry_instrumentation_toolaudit.ledger import (
        AuditLog,
        default_key_path,
        sink_url_for,
    )

    _open(target).close()  # it must exist: nothing is created here
    key = default_key_path()
    if not os.path.exists(key):
        raise _UsageError(
            f"no signing key at {key}: set {OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE} to the "
            "writer's key (the checkpoint after the removal is signed with it)"
        )
    return AuditLog.from_env(sink_url_for(target))


def _print(args: argparse.Namespace, document: dict[str, Any], summary: str) -> None:
    if args.format == "json":
        print(json.dumps(document, indent=2))
    else:
        for line in document["seqs"]:
            print(line)
    print(summary, file=sys.stderr)


def _counts(categories: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(categories.items()))


def _notes(plan: Any) -> str:
    notes = []
    if plan.already_erased:
        notes.append(f"{plan.already_erased} removed before")
    if plan.whole:
        notes.append(f"{len(plan.whole)} in record format 1 kept whole (no separate payload)")
    return f" ({'; '.join(notes)})" if notes else ""


def _retention_apply(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, _open, _UsageError
    from opentelemetry_instrumentation_toolaudit.lifecycle import (
        expired,
        remove,
        signed_end,
        write_archive,
    )

    policy = _policy(args)
    as_of = args.as_of or _today()
    if args.prune_prefix:
        return _cli_prune.run(args, policy, as_of)
    document: dict[str, Any] = {"action": "retention", "as_of": as_of.isoformat()}
    if args.dry_run:
        with _open(args.sink) as sink:
            plan = expired(sink, policy, as_of)
            end = signed_end(sink, max(plan.seqs)) if plan.seqs and args.archive else None
        document.update(plan.to_json(), dry_run=True)
        if args.archive and plan.seqs:
            document["archive_records"] = f"0-{end - 1}" if end else f"0-{max(plan.seqs)}…"
        what = f" ({_counts(plan.categories)})" if plan.seqs else ""
        _print(
            args,
            document,
            f"DRY RUN: would remove {len(plan.seqs)} payloads{what} of records expired before "
            f"{as_of}{_notes(plan)}; nothing changed",
        )
        return EXIT_OK
    with _open_log(args.sink) as log:
        plan = expired(log.sink, policy, as_of)
        document.update(plan.to_json(), dry_run=False)
        if not plan.seqs:
            _print(args, document, f"OK: no payload expired before {as_of}{_notes(plan)}")
            return EXIT_OK
        archive = None
        if args.archive:
            end = signed_end(log.sink, max(plan.seqs))
            if end is None:
                log.checkpoint()
                end = signed_end(log.sink, max(plan.seqs))
            try:
                archive = write_archive(
                    log.sink, args.archive, end or log.sink.size(), expired=plan.seqs, as_of=as_of
                )
            except FileExistsError as exc:
                raise _UsageError(f"{exc}; nothing was removed") from None
            document["archive"] = str(archive)
        details: dict[str, Any] = {
            "action": "retention",
            "as_of": as_of.isoformat(),
            "categories": dict(sorted(plan.categories.items())),
            "payloads": len(plan.seqs),
            "seqs": document["seqs"],
        }
        if archive is not None:
            details["archive"] = archive.name
        done = remove(log, plan, details, policy)
    document.update(removed=done.removed, event_seq=done.event_seq)
    archived = f"; archived in {archive}" if archive is not None else ""
    _print(
        args,
        document,
        f"OK: removed {done.removed} payloads ({_counts(plan.categories)}) of records expired "
        f"before {as_of}{_notes(plan)}; admin event #{done.event_seq}, signed checkpoint at "
        f"{done.checkpoint_size} records{archived}",
    )
    return EXIT_OK


def _subject_pseudonym(text: str) -> str:
    """The pseudonym ``--subject`` names: as given when it is one, else the value's, made with
    the writer's hash key (a usage error when there is none: a new key would match nothing)."""
    from opentelemetry_instrumentation_toolaudit.cli import _UsageError
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import (
        HashKey,
        default_key_path,
    )

    if text == "-":
        text = sys.stdin.readline().rstrip("\r\n")
    if not text:
        raise _UsageError("--subject is empty")
    if _PSEUDONYM.fullmatch(text):
        return text
    if not os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY, "").strip():
        path = os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE) or str(default_key_path())
        if not os.path.exists(path):
            raise _UsageError(
                f"no hash key at {path}: set {OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE} to the writer's "
                f"key file (or {OTEL_PYTHON_TOOLAUDIT_HASH_KEY} to its key), or give the pseudonym"
            )
    key = HashKey.from_env()
    if key.ephemeral:
        raise _UsageError(
            f"no usable hash key (set {OTEL_PYTHON_TOOLAUDIT_HASH_KEY} or _HASH_KEY_FILE as the "
            "writer has it), or give the pseudonym"
        )
    return key.pseudonym(text)


def _erase(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, _open
    from opentelemetry_instrumentation_toolaudit.lifecycle import of_subject, remove
    from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

    pseudonym = _subject_pseudonym(args.subject)
    document: dict[str, Any] = {"action": "erase", "subject": pseudonym}
    if args.dry_run:
        with _open(args.sink) as sink:
            plan = of_subject(sink, pseudonym)
        document.update(plan.to_json(), dry_run=True)
        document.pop("categories")
        _print(
            args,
            document,
            f"DRY RUN: would remove {len(plan.seqs)} payloads of subject {pseudonym}"
            f"{_notes(plan)}; nothing changed",
        )
        return EXIT_OK
    with _open_log(args.sink) as log:
        plan = of_subject(log.sink, pseudonym)
        document.update(plan.to_json(), dry_run=False)
        document.pop("categories")
        if not plan.seqs:
            _print(args, document, f"OK: no payload of subject {pseudonym} to remove{_notes(plan)}")
            return EXIT_OK
        details: dict[str, Any] = {
            "action": "erase",
            "subject": pseudonym,
            "payloads": len(plan.seqs),
            "seqs": document["seqs"],
        }
        if args.reason:
            details["reason"] = RedactionPolicy.from_env().redact(args.reason)
        done = remove(log, plan, details)
    document.update(removed=done.removed, event_seq=done.event_seq)
    _print(
        args,
        document,
        f"OK: removed {done.removed} payloads of subject {pseudonym}{_notes(plan)}; admin event "
        f"#{done.event_seq}, signed checkpoint at {done.checkpoint_size} records",
    )
    return EXIT_OK
