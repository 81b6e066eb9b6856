# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Log a telemetry failure once per kind, and count every occurrence."""

from __future__ import annotations

import collections
import logging
import threading

from opentelemetry_instrumentation_toolaudit._exceptions import (
    CanonicalizationError,
    ToolAuditError,
)

logger = logging.getLogger("opentelemetry_instrumentation_toolaudit")

_lock = threading.Lock()
_counts: collections.Counter[str] = collections.Counter()


def internal_error(kind: str, exc: BaseException | None = None) -> None:
    """Record that our own telemetry code failed; the app is never told (only our log is).

    Only the exception's type is logged, its message may quote a tool argument; the message of this
    package's own errors (which never carry values) is logged too, so a misconfigured sink says why.
    """
    with _lock:
        _counts[kind] += 1
        first = _counts[kind] == 1
    if first:
        detail = f": {type(exc).__qualname__}" if exc is not None else ""
        if _own_message(exc):
            # Our own errors say what and where (a sink, a key file), never a recorded value.
            detail += f": {exc}"
        logger.warning("toolaudit: %s failed%s (logged once; see error_counts())", kind, detail)


def _own_message(exc: BaseException | None) -> bool:
    # A canonicalization error may quote the value that could not be encoded.
    return isinstance(exc, ToolAuditError) and not isinstance(exc, CanonicalizationError)


def error_counts() -> dict[str, int]:
    """How many times each kind of internal failure happened in this process."""
    with _lock:
        return dict(_counts)
