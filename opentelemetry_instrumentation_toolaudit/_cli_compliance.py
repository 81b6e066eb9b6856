# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The compliance commands of the ``toolaudit`` CLI: ``pseudonym``, ``alerts``, ``report
break-glass``, and ``--log-access`` on the commands that read a trail.

Registered on the CLI's subparsers by :func:`register`; each command's handler is set as the
``run`` default of its parser. Conduct as in ``cli.py``: data on stdout, summary on stderr, exit 0
ok, 1 a failed check (``alerts``: an alert was raised), 2 usage or unreadable input.

A command that reads a trail offers ``--log-access`` with one call,
``add_log_access_option(parser)``; the CLI then records an ``audit.read`` event before running it
(see :func:`log_access`).
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS,
)

PSEUDONYM_FORMS = ("text", "email", "phone", "ip_address")


def register(commands: Any, reports: Any) -> None:
    """Add the compliance commands to the CLI's subparsers."""
    pseudonym = commands.add_parser(
        "pseudonym",
        help="print the keyed pseudonym of a value, to look a subject up in the trail",
        description="Print the keyed pseudonym (hmac-sha256:<key id>:<32 hex>) that redaction and "
        "the recorder make of VALUE, with the hash key the writer uses "
        "(OTEL_PYTHON_TOOLAUDIT_HASH_KEY, _HASH_KEY_FILE, _HASH_KEY_ID). Only the pseudonym is "
        "printed, never the value; give '-' to read the value from stdin and keep it out of the "
        "shell history.",
    )
    pseudonym.add_argument("value", metavar="VALUE", help="the value, or '-' to read it from stdin")
    pseudonym.add_argument(
        "--as",
        dest="form",
        choices=PSEUDONYM_FORMS,
        default="text",
        help="normalize the value as redaction does for this kind first (email: lower-cased; "
        "phone: digits only) so that it matches pseudonyms made under such keys; default text "
        "(as is: subject identifiers)",
    )
    pseudonym.set_defaults(run=_pseudonym)

    alerts = commands.add_parser(
        "alerts",
        help="run the alert rules over a trail (exit 1 when an alert is raised)",
        description="Evaluate the alert rules (repeated access to one subject, many subjects, "
        "unusual hours, failure spikes, break-the-glass) over the whole trail and print the alerts "
        "raised since --since. Thresholds come from the [alerts] table of the file "
        "OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE names. Users appear as keyed pseudonyms. Exit 0 when "
        "no alert is raised, 1 when one is, 2 when the sink or the file cannot be read.",
    )
    _sink_argument(alerts)
    _since_argument(alerts)
    alerts.add_argument("--format", choices=("table", "json"), default="table")
    add_log_access_option(alerts)
    alerts.set_defaults(run=_alerts)

    break_glass = reports.add_parser(
        "break-glass",
        help="every break-the-glass use, for review",
        description="Every break-the-glass use in the trail: who, when, which tool, the recorded "
        "(redacted) reason, the purpose and the trace id to open in the tracing backend.",
    )
    _sink_argument(break_glass)
    _since_argument(break_glass)
    break_glass.add_argument("--format", choices=("table", "json"), default="table")
    add_log_access_option(break_glass)
    break_glass.set_defaults(run=_report_break_glass)

    for name in ("verify", "prove"):
        add_log_access_option(commands.choices[name])


def add_log_access_option(parser: argparse.ArgumentParser) -> None:
    """Give a command that reads a trail the ``--log-access`` option (see :func:`log_access`)."""
    parser.add_argument(
        "--log-access",
        action="store_true",
        default=None,
        help="record this read as an audit.read event in the sink (OS user, command, filters); "
        f"default: ${OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS}",
    )


def _sink_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sink",
        metavar="SINK",
        help="sink URL (sqlite:///toolaudit.db, jsonl:///audit.jsonl, postgresql://…) or a file path",
    )


def _since_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        type=_since,
        metavar="WHEN",
        help="only what was recorded since WHEN: a duration back from now (30m, 24h, 7d) or an "
        "RFC 3339 date or time (2026-11-24, 2026-11-24T10:00:00Z); default: the whole trail",
    )


_DURATION = re.compile(r"(\d+)([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def _since(text: str) -> float:
    """``--since``: the Unix time it names."""
    match = _DURATION.fullmatch(text.strip())
    if match is not None:
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        return now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a duration (30m, 24h, 7d) or an RFC 3339 date: {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _records(sink: Any) -> Iterator[dict[str, Any]]:
    """Every record of the trail, in order, with its sequence number."""
    return _with_seq(sink.read())


def _with_seq(stored_records: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for stored in stored_records:
        record = stored.record
        record.setdefault("seq", stored.seq)
        yield record


def _policy() -> Any:
    from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

    return RedactionPolicy.from_env()


def _alerts(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.alerts import AlertThresholds, evaluate
    from opentelemetry_instrumentation_toolaudit.alerts._rules import timestamp_seconds
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_FAILED, EXIT_OK, _open, _UsageError

    try:
        thresholds = AlertThresholds.from_env()
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    with _open(args.sink) as sink:
        raised = evaluate(_records(sink), thresholds, pseudonym=_policy().pseudonym)
    if args.since is not None:
        raised = [a for a in raised if (timestamp_seconds(a.at) or 0) >= args.since]
    if args.format == "json":
        print(json.dumps([alert.to_json() for alert in raised], indent=2))
    else:
        _table(
            ("RULE", "AT", "USER", "SUBJECT", "TOOL", "COUNT", "SEQS"),
            (
                (
                    a.rule,
                    a.at,
                    a.user or "",
                    a.subject or "",
                    a.tool or "",
                    str(a.count),
                    _seqs(a.seqs),
                )
                for a in raised
            ),
        )
    by_rule: dict[str, int] = {}
    for alert in raised:
        by_rule[alert.rule] = by_rule.get(alert.rule, 0) + 1
    if raised:
        detail = ", ".join(f"{n} {rule}" for rule, n in sorted(by_rule.items()))
        print(f"ALERT: {len(raised)} alerts ({detail})", file=sys.stderr)
        return EXIT_FAILED
    print("OK: no alert", file=sys.stderr)
    return EXIT_OK


def _seqs(seqs: Iterable[int]) -> str:
    items = [str(s) for s in seqs]
    return ",".join(items) if len(items) <= 8 else ",".join(items[:3]) + f",…,{items[-1]}"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> None:
    rows = list(rows)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def break_glass_uses(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per break-the-glass use: who, when, tool, reason, purpose, trace id."""
    from opentelemetry_instrumentation_toolaudit.alerts import is_break_glass

    rows = []
    for record in records:
        if not is_break_glass(record):
            continue
        details = record.get("details")
        details = details if isinstance(details, Mapping) else {}
        glass = details.get("break_glass")
        reason = glass.get("reason") if isinstance(glass, Mapping) else details.get("reason")
        rows.append(
            {
                "seq": record.get("seq"),
                "when": record.get("start_time") or record.get("recorded_at"),
                "user_id": record.get("user_id"),
                "user_roles": record.get("user_roles", []),
                "event_type": record.get("event_type"),
                "tool_name": record.get("tool_name"),
                "success": record.get("success"),
                "reason": reason,
                "purpose": record.get("purpose"),
                "trace_id": record.get("trace_id"),
            }
        )
    return rows


def _report_break_glass(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, _open
    from opentelemetry_instrumentation_toolaudit.ledger import Selection

    # One indexed query for the event types and the period; the break-glass test is on the rest.
    since = None
    if args.since is not None:
        moment = datetime.datetime.fromtimestamp(args.since, datetime.timezone.utc)
        since = f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"
    selection = Selection(where={"event_type": ("tool.call", "break_glass")}, since=since)
    with _open(args.sink) as sink:
        rows = break_glass_uses(_with_seq(sink.select(selection)))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        _table(
            ("SEQ", "WHEN", "USER", "TOOL", "REASON", "PURPOSE", "TRACE"),
            (
                (
                    str(r["seq"]), str(r["when"] or ""), str(r["user_id"] or ""),
                    str(r["tool_name"] or r["event_type"] or ""), str(r["reason"] or ""),
                    str(r["purpose"] or ""), str(r["trace_id"] or ""),
                )
                for r in rows
            ),
        )  # fmt: skip
    print(f"{len(rows)} break-the-glass uses", file=sys.stderr)
    return EXIT_OK


# --- access to the trail itself ------------------------------------------------------------------
_NOT_FILTERS = frozenset({"command", "run", "log_access", "format", "sink", "public_key", "report"})


def _flag_on(name: str) -> bool:
    from opentelemetry_instrumentation_toolaudit._env import read_bool

    return read_bool(name, False)


def log_access(args: argparse.Namespace) -> None:
    """Record an ``audit.read`` event for this command in the sink it reads, when asked to
    (``--log-access`` or ``OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS=true``) and the command has the option.

    The event names the OS user, the command and its filters (redacted by the policy, so a search
    term never lands in the trail in clear), and the sink with its password masked. It is appended
    without a checkpoint of its own: the writer's next checkpoint covers it. When the sink cannot
    be written, a warning says so on stderr and the command runs.
    """
    if not hasattr(args, "log_access") or not (
        args.log_access or _flag_on(OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS)
    ):
        return
    from opentelemetry_instrumentation_toolaudit.export._records import new_event_id, now
    from opentelemetry_instrumentation_toolaudit.ledger import open_sink, sink_url_for
    from opentelemetry_instrumentation_toolaudit.ledger.stores import redact_url
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import PSEUDONYM_RE

    command = " ".join(c for c in (args.command, getattr(args, "report", None)) if c)
    filters = {
        k: v for k, v in sorted(vars(args).items()) if k not in _NOT_FILTERS and v is not None
    }
    subject = filters.get("subject")
    if isinstance(subject, str) and not PSEUDONYM_RE.fullmatch(subject):
        filters["subject"] = _policy().pseudonym(subject)  # a subject is never recorded in clear
    if isinstance(filters.get("since"), float):  # parsed to a time: recorded as one
        moment = datetime.datetime.fromtimestamp(filters["since"], datetime.timezone.utc)
        filters["since"] = f"{moment:%Y-%m-%dT%H:%M:%S}Z"
    url = sink_url_for(args.sink)
    body = {
        "event_id": new_event_id(),
        "event_type": "audit.read",
        "recorded_at": now(),
        "user_id": _os_user(),
        "success": True,
        "details": {
            "action": command,
            "filters": _policy().redact(json.loads(json.dumps(filters, default=str))),
            "sink": redact_url(url),
        },
    }
    try:
        # Opened once to check the trail exists (a read must not create one), then for writing
        # (a file sink opened not to create is read-only).
        open_sink(url, create=False).close()
        with open_sink(url) as sink:
            sink.append([body])
    except Exception as exc:  # noqa: BLE001 - reported, and the read goes on
        from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError

        why = str(exc) if isinstance(exc, ToolAuditError) else type(exc).__name__
        print(
            f"toolaudit {command}: warning: this access was not logged: {redact_url(why)}",
            file=sys.stderr,
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _pseudonym(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, EXIT_USAGE
    from opentelemetry_instrumentation_toolaudit.environment_variables import (
        OTEL_PYTHON_TOOLAUDIT_HASH_KEY,
        OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    )
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import (
        HashKey,
        default_key_path,
    )
    from opentelemetry_instrumentation_toolaudit.redaction._placeholders import normalize_for

    value = args.value
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        print("toolaudit pseudonym: error: VALUE is empty", file=sys.stderr)
        return EXIT_USAGE
    if not os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY, "").strip():
        # The writer creates a missing key file; here a new key would match nothing.
        path = os.environ.get(OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE) or str(default_key_path())
        if not os.path.exists(path):
            print(
                f"toolaudit pseudonym: error: no hash key at {path}: set "
                f"{OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE} to the writer's key file (or "
                f"{OTEL_PYTHON_TOOLAUDIT_HASH_KEY} to its key)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    key = HashKey.from_env()
    if key.ephemeral:
        print(
            "toolaudit pseudonym: error: no usable hash key (set OTEL_PYTHON_TOOLAUDIT_HASH_KEY or "
            "_HASH_KEY_FILE as the writer has it): a pseudonym made with a throwaway key matches "
            "nothing",
            file=sys.stderr,
        )
        return EXIT_USAGE
    data = value if args.form == "text" else normalize_for(args.form, value)
    print(key.pseudonym(data))
    print(f"pseudonym under hash key {key.key_id}", file=sys.stderr)
    return EXIT_OK
