"""Log a telemetry failure once per kind, and count every occurrence."""

from __future__ import annotations

import collections
import logging
import threading

logger = logging.getLogger("opentelemetry_instrumentation_toolaudit")

_lock = threading.Lock()
_counts: collections.Counter[str] = collections.Counter()


def internal_error(kind: str, exc: BaseException | None = None) -> None:
    """Record that our own telemetry code failed; the app is never told (only our log is).

    Only the exception's type is logged: its message may quote a tool argument.
    """
    with _lock:
        _counts[kind] += 1
        first = _counts[kind] == 1
    if first:
        detail = f": {type(exc).__qualname__}" if exc is not None else ""
        logger.warning("toolaudit: %s failed%s (logged once; see error_counts())", kind, detail)


def error_counts() -> dict[str, int]:
    """How many times each kind of internal failure happened in this process."""
    with _lock:
        return dict(_counts)
