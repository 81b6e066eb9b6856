# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit serve``: receive spans over OTLP (HTTP and gRPC) and commit their audit records."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_ALERTS,
    OTEL_PYTHON_TOOLAUDIT_SINK,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores import redact_url

EXIT_OK = 0


def add_serve_command(commands: Any) -> None:
    """Register ``serve`` on the CLI's subparsers; its handler is ``args.run``."""
    from opentelemetry_instrumentation_toolaudit.serve._server import (
        DEFAULT_GRPC,
        DEFAULT_HTTP,
        DEFAULT_MAX_INFLIGHT,
        DEFAULT_MAX_REQUEST_BYTES,
    )

    serve = commands.add_parser(
        "serve",
        help="receive spans over OTLP (HTTP and gRPC) and commit their audit records",
        description="Receive OTLP trace exports from SDKs or a Collector, redact them by the "
        "configured policy, and commit an audit record for each audited span before answering "
        "success. Runs until SIGTERM or SIGINT, then finishes what is in flight and writes a final "
        "checkpoint. Needs the 'serve' extra.",
    )
    serve.add_argument(
        "--sink",
        metavar="SINK",
        help=f"sink URL or file path to write (default: ${OTEL_PYTHON_TOOLAUDIT_SINK}, else "
        "sqlite:///toolaudit.db)",
    )
    serve.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=DEFAULT_HTTP,
        help=f"OTLP/HTTP address, POST /v1/traces and GET /healthz (default {DEFAULT_HTTP}; '' "
        "disables it)",
    )
    serve.add_argument(
        "--grpc",
        metavar="HOST:PORT",
        default=DEFAULT_GRPC,
        help=f"OTLP/gRPC address (default {DEFAULT_GRPC}; '' disables it)",
    )
    serve.add_argument("--tls-cert", metavar="FILE", help="TLS certificate chain (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM)")
    serve.add_argument(
        "--client-ca",
        metavar="FILE",
        help="require client certificates issued by this CA bundle (mutual TLS; needs --tls-cert)",
    )
    serve.add_argument(
        "--bearer-token-file",
        metavar="FILE",
        help="require 'Authorization: Bearer <token>' with the token in FILE",
    )
    serve.add_argument(
        "--max-request-bytes",
        metavar="N",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"refuse a request larger than N bytes, compressed or not (HTTP 413; default "
        f"{DEFAULT_MAX_REQUEST_BYTES})",
    )
    serve.add_argument(
        "--max-inflight",
        metavar="N",
        type=_positive,
        default=DEFAULT_MAX_INFLIGHT,
        help=f"answer 429 / RESOURCE_EXHAUSTED with Retry-After beyond N requests in flight "
        f"(default {DEFAULT_MAX_INFLIGHT})",
    )
    serve.add_argument(
        "--no-alerts",
        action="store_true",
        help=f"do not run the alert rules on committed records (as "
        f"{OTEL_PYTHON_TOOLAUDIT_ALERTS}=false; default: on)",
    )
    serve.set_defaults(run=_serve)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _serve(args: argparse.Namespace) -> int:
    try:
        from opentelemetry_instrumentation_toolaudit.serve import Ingest, ServeOptions, run
    except ImportError as exc:
        raise ToolAuditError(
            f"needs the 'serve' extra ({exc.name} is missing): "
            "pip install 'opentelemetry-instrumentation-toolaudit[serve]'"
        ) from None
    from opentelemetry_instrumentation_toolaudit.export import ExporterConfig
    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, sink_url_for

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ToolAuditError("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        raise ToolAuditError("--client-ca needs --tls-cert and --tls-key")
    if not args.http and not args.grpc:
        raise ToolAuditError("--http and --grpc are both disabled: nothing to serve")
    token = None
    if args.bearer_token_file:
        try:
            token = Path(args.bearer_token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise ToolAuditError(
                f"{args.bearer_token_file}: cannot read the token: {why}"
            ) from None
        if not token:
            raise ToolAuditError(f"{args.bearer_token_file}: the token file is empty")
    options = ServeOptions(
        http=args.http,
        grpc=args.grpc,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        client_ca=args.client_ca,
        token=token,
        max_request_bytes=args.max_request_bytes,
        max_inflight=args.max_inflight,
    )
    try:
        log = AuditLog.from_env(sink_url_for(args.sink) if args.sink else None)
    except ToolAuditError as exc:
        # from_env names the source of a sink URL passed in as "given in code": here it is --sink.
        raise ToolAuditError(str(exc).replace("the sink URL given in code", "--sink")) from None
    ingest = Ingest(
        log,
        event_types=ExporterConfig.from_env().event_types,
        max_inflight=args.max_inflight,
        alerts=False if args.no_alerts else None,
    )

    def ready(urls: list[str]) -> None:
        print(
            f"toolaudit serve: listening on {', '.join(urls)}; sink {redact_url(log.sink.url)}",
            file=sys.stderr,
            flush=True,
        )

    run(ingest, options, on_ready=ready)
    print("toolaudit serve: stopped; the audit log is closed", file=sys.stderr, flush=True)
    return EXIT_OK
