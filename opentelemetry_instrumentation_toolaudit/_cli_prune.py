# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit retention apply SINK --prune-prefix``: remove the trail's wholly expired prefix,
leaving a signed pruning checkpoint so that ``verify`` on what remains still proves nothing else
was removed, changed or reordered (:mod:`opentelemetry_instrumentation_toolaudit.lifecycle._prune`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

PRUNE_HELP = (
    "remove whole records instead of payloads: every record from the start of the trail up to "
    "the first one not yet expired, leaving a signed pruning checkpoint (the Merkle state at the "
    "cut) that verify continues from. The whole trail is verified first with the writer's key, "
    "and nothing is pruned when that fails (exit 2); with --archive the pruned records are archived first and "
    "nothing is removed if that fails. On PostgreSQL run it as the pruner role "
    "(PostgresSink.grant_pruner)"
)


def add_option(apply: argparse.ArgumentParser) -> None:
    """Add ``--prune-prefix`` to ``toolaudit retention apply``."""
    apply.add_argument("--prune-prefix", action="store_true", help=PRUNE_HELP)


def _print(args: argparse.Namespace, document: dict[str, Any], summary: str) -> None:
    if args.format == "json":
        print(json.dumps(document, indent=2))
    elif document.get("records"):
        print(document["records"])
    print(summary, file=sys.stderr)


def _counts(categories: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(categories.items())) or "none"


def run(args: argparse.Namespace, policy: Any, as_of: Any) -> int:
    """Prune (or with ``--dry-run`` show) the expired prefix of ``args.sink``."""
    from opentelemetry_instrumentation_toolaudit._cli_lifecycle import _open_log
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, _open, _UsageError
    from opentelemetry_instrumentation_toolaudit.lifecycle._archive import archive_name
    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import find_cut, prune, verified

    document: dict[str, Any] = {"action": "prune", "as_of": as_of.isoformat()}
    if args.dry_run:
        verifier = _verifier()
        with _open(args.sink) as sink:
            verified(sink, verifier)
            cut = find_cut(sink, policy, as_of, verifier)
            name = archive_name(sink, cut.first, cut.size) if args.archive and cut.count else None
        document.update(cut.to_json(), dry_run=True)
        if name is not None:
            document["archive"] = name
        what = (
            f"would prune records #{cut.first}..#{cut.size - 1} ({cut.count} records: "
            f"{_counts(cut.categories)})"
            if cut.count
            else "no record to prune"
        )
        _print(
            args, document, f"DRY RUN: {what} expired before {as_of}{_kept(cut)}; nothing changed"
        )
        return EXIT_OK
    with _open_log(args.sink) as log:
        verified(log.sink, log.signer.verifier)
        cut = find_cut(log.sink, policy, as_of, log.signer.verifier)
        document.update(cut.to_json(), dry_run=False)
        if not cut.count:
            _print(args, document, f"OK: no record to prune before {as_of}{_kept(cut)}")
            return EXIT_OK
        details: dict[str, Any] = {
            "action": "prune",
            "as_of": as_of.isoformat(),
            "records": f"{cut.first}-{cut.size - 1}",
            "count": cut.count,
            "categories": dict(sorted(cut.categories.items())),
            "policy": {c.name: c.retention_days for c in policy.categories},
        }
        if args.archive:
            details["archive"] = archive_name(log.sink, cut.first, cut.size)
        try:
            done = prune(log, cut, details, policy=policy, as_of=as_of, archive_dir=args.archive)
        except FileExistsError as exc:
            raise _UsageError(f"{exc}; nothing was pruned") from None
    document.update(
        removed=done.removed,
        event_seq=done.event_seq,
        archive=str(done.archive) if done.archive is not None else None,
        pruning=done.pruning.to_json(),
    )
    archived = f"; archived in {done.archive}" if done.archive is not None else ""
    _print(
        args,
        document,
        f"OK: pruned records #{cut.first}..#{cut.size - 1} ({done.removed} records: "
        f"{_counts(cut.categories)}) expired before {as_of}{_kept(cut)}; admin event "
        f"#{done.event_seq}, signed pruning checkpoint at {cut.size} records, signed checkpoint "
        f"at {done.checkpoint_size} records{archived}",
    )
    return EXIT_OK


def _verifier() -> Any:
    """The writer's verifier key, for a dry run: the trail is verified and the pruning
    checkpoints checked with it, as the run does."""
    from opentelemetry_instrumentation_toolaudit.cli import _UsageError
    from opentelemetry_instrumentation_toolaudit.environment_variables import (
        OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
    )
    from opentelemetry_instrumentation_toolaudit.ledger import (
        NoteSigner,
        default_key_path,
        public_key_path,
    )
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import load_verifier

    key = default_key_path()
    if key.exists():
        return NoteSigner.from_file(key).verifier
    public = public_key_path(key)
    if public.exists():
        return load_verifier(str(public))
    raise _UsageError(
        f"no signing key at {key}: set {OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE} to the writer's "
        "key (the trail and its pruning checkpoints are verified with it)"
    )


def _kept(cut: Any) -> str:
    return f" (record #{cut.stopped_at} is kept)" if cut.stopped_at is not None else ""
