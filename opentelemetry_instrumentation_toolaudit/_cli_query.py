# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The ``toolaudit`` commands that read a trail: ``search``, ``show``, ``timeline``, ``stats``,
``report access``, ``export`` and ``tail``.

They share one set of filter flags and the conduct of ``verify``: data on stdout, a summary on
stderr, exit 0 ok, 1 a failed check (a report whose trail is not verified, a record not found or
not proven), 2 usage or unreadable input, one-line errors with URLs masked. A subject given as a
value is turned into its keyed pseudonym here and never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from opentelemetry_instrumentation_toolaudit._cli_query_output import (
    TABLE_HEAD,
    print_report_table,
    result_json,
    stats_row,
    table_line,
    write_csv,
    write_json_array,
    write_jsonl,
)
from opentelemetry_instrumentation_toolaudit.cli import (
    EXIT_FAILED,
    EXIT_OK,
    _open,
    _sink_argument,
    _trusted_keys,
    _UsageError,
)
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS,
)
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.ledger._stats import GROUPS
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url
from opentelemetry_instrumentation_toolaudit.query import (
    AuditQuery,
    Filter,
    QueryResult,
    access_report,
    end_of_day,
    fhir_bundle,
    fhir_ndjson,
    parse_time,
    proof_status,
    report_html,
    timeline_line,
)
from opentelemetry_instrumentation_toolaudit.query._integrity import METHODS
from opentelemetry_instrumentation_toolaudit.query._links import trace_url_template

PSEUDONYM_PREFIX = "hmac-sha256:"


def add_query_commands(commands: Any, reports: Any) -> None:
    """Register the reading commands on ``toolaudit``'s subparsers."""
    search = commands.add_parser(
        "search",
        help="list the records that match the filters",
        description="Print the matching records on stdout (oldest first; --desc newest first) and "
        "their count on stderr. Page with --limit and --after SEQ (the last seq of a page).",
    )
    _sink_argument(search)
    _filter_arguments(search)
    search.add_argument("--format", choices=("table", "json", "csv", "jsonl"), default="table")
    search.add_argument("--limit", type=_count, metavar="N", help="at most N records")
    search.add_argument("--after", type=_count, metavar="SEQ", help="only records after SEQ")
    search.add_argument("--desc", action="store_true", help="newest first")
    search.set_defaults(run=_search)

    show = commands.add_parser(
        "show",
        help="print one record whole, with its proof status",
        description="Print a record (by SEQ, --event-id, --entry-hash; every record of --trace-id) "
        "as JSON with its inclusion proof status: the signed checkpoint it is proven under. Exit 1 "
        "when no record matches or one is not proven.",
    )
    _sink_argument(show)
    show.add_argument("seq", type=_count, nargs="?", metavar="SEQ", help="the sequence number")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--trace-id", metavar="T", help="every record of this trace")
    which.add_argument("--event-id", metavar="E", help="the record with this event id")
    which.add_argument("--entry-hash", metavar="H", help="the record with this entry hash")
    _key_argument(show)
    show.set_defaults(run=_show)

    timeline = commands.add_parser(
        "timeline",
        help="one conversation's tool calls, one line each",
        description="Print a conversation's tool calls in order, one line each: "
        "'[Turn 3] ✗ tool({arguments}) → {result} [38 ms]  trace <id>'.",
    )
    _sink_argument(timeline)
    timeline.add_argument("conversation", metavar="CONVERSATION", help="the conversation id")
    timeline.add_argument("--format", choices=("text", "json"), default="text")
    timeline.set_defaults(run=_timeline)

    stats = commands.add_parser(
        "stats",
        help="calls, success rate and durations, overall or by tool, user or model",
        description="Statistics of the matching tool calls (--event-type to count other events).",
    )
    _sink_argument(stats)
    _filter_arguments(stats)
    stats.add_argument("--by", choices=tuple(GROUPS), help="one row per tool, user or model")
    stats.add_argument("--format", choices=("table", "json"), default="table")
    stats.set_defaults(run=_stats)

    access = reports.add_parser(
        "access",
        help="who accessed one subject's records, with the trail's integrity",
        description="Every tool call about --subject in the period: who, role, "
        "when, tool, purpose, success; totals; and integrity_verified, checked against a signed "
        "checkpoint. Exit 1 when the trail could not be verified (the report says why).",
    )
    _sink_argument(access)
    access.add_argument("--subject", required=True, metavar="S", help=_SUBJECT_HELP)
    access.add_argument(
        "--from",
        "--since",
        dest="since",
        metavar="WHEN",
        help="start (ISO 8601, or back from now: 1h, 24h, 7d)",
    )
    access.add_argument(
        "--to",
        "--until",
        dest="until",
        metavar="WHEN",
        help="end (ISO 8601, or back from now); a date includes that whole day",
    )
    access.add_argument("--format", choices=("table", "json", "html"), default="table")
    access.add_argument(
        "--integrity",
        choices=METHODS,
        default="full",
        help="full: verify the trail up to the last reported record (default); proofs: an "
        "inclusion proof per reported record (faster on large trails)",
    )
    _key_argument(access)
    access.set_defaults(run=_report_access)

    export = commands.add_parser(
        "export",
        help="export the matching records as JSON Lines, CSV or FHIR AuditEvents",
        description="fhir: a FHIR R4 Bundle of AuditEvent resources shaped after IHE BALP "
        "(--fhir-form ndjson: one AuditEvent per line).",
    )
    _sink_argument(export)
    _filter_arguments(export)
    export.add_argument("--format", choices=("jsonl", "csv", "fhir"), required=True)
    export.add_argument("--fhir-form", choices=("bundle", "ndjson"), default="bundle")
    export.set_defaults(run=_export)

    tail = commands.add_parser(
        "tail",
        help="follow new records as they are written",
        description="Print each new matching record as it is committed (Ctrl-C to stop).",
    )
    _sink_argument(tail)
    _filter_arguments(tail)
    tail.add_argument("--format", choices=("text", "jsonl"), default="text")
    tail.add_argument("--interval", type=float, default=1.0, metavar="S", help="poll every S s")
    tail.add_argument("--count", type=_count, metavar="N", help="stop after N records")
    tail.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    tail.add_argument("--from-start", action="store_true", help="print the existing records first")
    tail.set_defaults(run=_tail)


_SUBJECT_HELP = (
    "the subject's value (turned into its keyed pseudonym with the hash key) or its pseudonym "
    "hmac-sha256:…"
)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument("--user", metavar="ID")
    group.add_argument("--role", metavar="ROLE")
    group.add_argument("--tool", metavar="NAME")
    group.add_argument("--conversation", metavar="ID")
    group.add_argument("--event-type", metavar="TYPE", help=", ".join(f.EVENT_TYPES))
    outcome = group.add_mutually_exclusive_group()
    outcome.add_argument("--success", dest="success", action="store_const", const=True)
    outcome.add_argument("--failed", dest="success", action="store_const", const=False)
    group.add_argument("--trace-id", metavar="T")
    group.add_argument("--subject", metavar="S", help=_SUBJECT_HELP)
    group.add_argument("--purpose", metavar="P")
    group.add_argument("--since", metavar="WHEN", help="ISO 8601, or back from now: 1h, 24h, 7d")
    group.add_argument("--until", metavar="WHEN", help="ISO 8601, or back from now: 1h, 24h, 7d")


def _key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-key",
        metavar="KEY",
        action="append",
        help="pinned verifier key the checkpoints must be signed with (repeatable); default: "
        f"${OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS}, else the writer's <signing key>.pub here",
    )


def _time(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise _UsageError(f"{what}: {exc}") from None


def subject_pseudonym(value: str) -> str:
    """``value`` as the keyed pseudonym the recorder stores: a pseudonym is taken as given; any
    other value needs the hash key (a usage error without it, which never repeats the value)."""
    value = value.strip()
    if value.startswith(PSEUDONYM_PREFIX):
        return value
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import (
        HashKey,
        default_key_path,
    )

    key_file = os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE) or str(default_key_path())
    if not os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY, "").strip() and not os.path.isfile(
        key_file
    ):
        raise _UsageError(
            f"--subject: no hash key here to pseudonymize the value with (set "
            f"{OTEL_PYTHON_TOOLAUDIT_HASH_KEY} or {OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE} as the "
            "writer does, or give the subject's pseudonym hmac-sha256:…)"
        )
    key = HashKey.from_env()
    if key.ephemeral:
        raise _UsageError(
            "--subject: the configured hash key cannot be used (see the warning above)"
        )
    return key.pseudonym(value)


def _filter(args: argparse.Namespace) -> Filter:
    return Filter(
        conversation=args.conversation,
        user=args.user,
        role=args.role,
        tool=args.tool,
        event_type=args.event_type,
        success=args.success,
        trace_id=args.trace_id,
        subject=subject_pseudonym(args.subject) if args.subject else None,
        purpose=args.purpose,
        since=_time(args.since, "--since"),
        until=_time(args.until, "--until"),
    )


def _progress(results: Iterable[QueryResult], total: int | None) -> Iterable[QueryResult]:
    """``results`` with a progress bar on stderr when it is a terminal and tqdm is installed."""
    if not sys.stderr.isatty():
        return results
    try:
        from tqdm import tqdm
    except ImportError:
        return results
    return tqdm(results, total=total, unit=" records", file=sys.stderr, leave=False)


def _search(args: argparse.Namespace) -> int:
    where = _filter(args)
    with _open(args.sink) as sink:
        query = AuditQuery(sink)
        results = _progress(
            query.search(where, after_seq=args.after, limit=args.limit, descending=args.desc),
            None,
        )
        out = sys.stdout
        if args.format == "json":
            n = write_json_array(results, out)
        elif args.format == "jsonl":
            n = write_jsonl(results, out, whole=True)
        elif args.format == "csv":
            n = write_csv(results, out)
        else:
            n = 0
            for result in results:
                if not n:
                    print(TABLE_HEAD)
                print(table_line(result))
                n += 1
        last = n
    print(f"{last} record(s)", file=sys.stderr)
    return EXIT_OK


def _pruned(sink: Any, seq: int | None) -> Any:
    """The pruning checkpoint whose cut is past record ``seq`` (None when none is, or no seq)."""
    from opentelemetry_instrumentation_toolaudit.ledger._prune import latest

    if seq is None:
        return None
    pruning = latest(sink.checkpoints(), sink.log_id())
    return pruning if pruning is not None and seq < pruning.cut else None


def _show(args: argparse.Namespace) -> int:
    chosen = [x for x in (args.seq, args.trace_id, args.event_id, args.entry_hash) if x is not None]
    if len(chosen) != 1:
        raise _UsageError("give one of SEQ, --trace-id, --event-id or --entry-hash")
    keys, pinned, _ = _trusted_keys(args)
    with _open(args.sink) as sink:
        query = AuditQuery(sink)
        if args.seq is not None:
            size = sink.size()
            if args.seq >= size:
                held = f"{size} records (#0..#{size - 1})" if size else "no records"
                raise _UsageError(f"record #{args.seq} is out of range: the trail holds {held}")
            found = [query.get(args.seq)]
            what = f"record #{args.seq}"
        elif args.trace_id is not None:
            found = list(query.by_trace_id(args.trace_id))
            what = f"trace {args.trace_id}"
        elif args.event_id is not None:
            found = [query.by_event_id(args.event_id)]
            what = f"event id {args.event_id}"
        else:
            found = [query.by_entry_hash(args.entry_hash)]
            what = f"entry hash {args.entry_hash}"
        results = [r for r in found if r is not None]
        if not results:
            pruning = _pruned(sink, args.seq)
            if pruning is not None:
                print(f"FAIL: {what}: it was pruned ({pruning.summary()})", file=sys.stderr)
                return EXIT_FAILED
            print(f"FAIL: no record with {what}", file=sys.stderr)
            return EXIT_FAILED
        documents = []
        for result in results:
            document = result_json(result)
            document["proof"] = proof_status(sink, result.seq, keys, key_pinned=pinned)
            documents.append(document)
    print(json.dumps(documents if args.trace_id is not None else documents[0], indent=2))
    failed = [d for d in documents if not d["proof"]["included"]]
    for document in documents:
        proof = document["proof"]
        if proof["included"] and proof.get("checkpoint"):
            cp = proof["checkpoint"]
            print(
                f"OK: record #{document['seq']} is included in the signed checkpoint of "
                f"{cp['size']} records ({cp['origin']}, root {cp['root']})",
                file=sys.stderr,
            )
        elif proof["included"]:
            print(
                f"OK (signature not checked): record #{document['seq']} is included in the "
                f"checkpoint of {proof['tree_size']} records; {proof['reason']} (give --public-key)",
                file=sys.stderr,
            )
        else:
            print(f"FAIL: record #{document['seq']}: {proof['reason']}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _timeline(args: argparse.Namespace) -> int:
    with _open(args.sink) as sink:
        results = AuditQuery(sink).timeline(args.conversation)
    if args.format == "json":
        print(json.dumps([result_json(r) for r in results], indent=2, ensure_ascii=False))
    else:
        template = trace_url_template()
        for result in results:
            print(timeline_line(result, template))
    failed = sum(1 for r in results if r.record.get(f.SUCCESS) is False)
    print(f"{len(results)} tool call(s), {failed} failed", file=sys.stderr)
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    where = _filter(args)
    if where.event_type is None:
        where = dataclasses.replace(where, event_type=f.EVENT_TOOL_CALL)
    with _open(args.sink) as sink:
        stats = AuditQuery(sink).stats(where, by=args.by)
    if args.format == "json":
        print(json.dumps({"by": args.by, **stats.to_json()}, indent=2, ensure_ascii=False))
    else:
        print(
            f"{(args.by or '').upper():<28} {'CALLS':>8} {'SUCCESS':>8} {'AVG MS':>9} "
            f"{'P50 MS':>9} {'P95 MS':>9} {'MAX MS':>9} {'USERS':>6}"
        )
        for name, group in stats.groups.items():
            print(stats_row(name or "(none)", group))
        print(stats_row("total" if args.by else "(all calls)", stats))
    print(
        f"{stats.calls} call(s), {stats.failed} failed, {stats.unique_users} user(s)",
        file=sys.stderr,
    )
    return EXIT_OK


def _report_access(args: argparse.Namespace) -> int:
    subject = subject_pseudonym(args.subject)
    since = _time(args.since, "--from/--since")
    try:
        until = end_of_day(args.until) if args.until else None
    except ValueError as exc:
        raise _UsageError(f"--to/--until: {exc}") from None
    keys, pinned, _ = _trusted_keys(args)
    with _open(args.sink) as sink:
        report = access_report(
            AuditQuery(sink),
            subject,
            since,
            until,
            keys,
            integrity_method=args.integrity,
            key_pinned=pinned,
            shown_period=(args.since, args.until),
        )
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.format == "html":
        sys.stdout.write(report_html(report))
    else:
        print_report_table(report)
    integrity = report["integrity"]
    if report["integrity_verified"]:
        cp = integrity["checkpoint"]
        print(
            f"OK: {report['total_accesses']} access(es) by {report['unique_users']} user(s); "
            f"integrity verified ({integrity['method']}) against the signed checkpoint of "
            f"{cp['size']} records, root {cp['root']}",
            file=sys.stderr,
        )
        return EXIT_OK
    print(f"FAIL: integrity not verified: {integrity['reason']}", file=sys.stderr)
    return EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    where = _filter(args)
    with _open(args.sink) as sink:
        results = _progress(AuditQuery(sink).search(where), None)
        out = sys.stdout
        if args.format == "csv":
            n = write_csv(results, out)
        elif args.format == "jsonl":
            n = write_jsonl(results, out, whole=False)
        elif args.fhir_form == "ndjson":
            n = 0
            for n, line in enumerate(fhir_ndjson(results, trace_url_template()), 1):  # noqa: B007
                out.write(line + "\n")
        else:
            bundle = fhir_bundle(results, trace_url_template())
            n = len(bundle["entry"])
            out.write(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n")
    print(f"exported {n} record(s) as {args.format}", file=sys.stderr)
    return EXIT_OK


def _tail(args: argparse.Namespace) -> int:
    where = _filter(args)
    deadline = time.monotonic() + args.timeout if args.timeout is not None else None
    seen = 0

    def stop() -> bool:
        done = args.count is not None and seen >= args.count
        return done or (deadline is not None and time.monotonic() >= deadline)

    template = trace_url_template()
    with _open(args.sink) as sink:
        query = AuditQuery(sink)
        after = -1 if args.from_start else sink.size() - 1
        where_from = "the start" if after < 0 else f"record #{after}"
        print(f"following {redact_url(sink.url)} after {where_from}", file=sys.stderr, flush=True)
        try:
            for result in query.follow(where, after_seq=after, interval=args.interval, stop=stop):
                if args.format == "jsonl":
                    line = json.dumps(result_json(result), ensure_ascii=False)
                else:
                    line = f"#{result.seq} {result.record.get(f.RECORDED_AT, '')} " + timeline_line(
                        result, template
                    )
                print(line, flush=True)
                seen += 1
        except KeyboardInterrupt:
            pass
    print(f"{seen} record(s)", file=sys.stderr)
    return EXIT_OK
