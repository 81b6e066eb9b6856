"""Whether an installed framework is a release an integration supports; said once when it is not."""

from __future__ import annotations

import re
import threading
from importlib import metadata

from opentelemetry_instrumentation_toolaudit._log import logger

_lock = threading.Lock()
_reported: set[tuple[str, str]] = set()


def release(distribution: str) -> tuple[int, ...] | None:
    """``(major, minor, patch)`` of an installed distribution, or None when it is not installed."""
    try:
        text = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(n) for n in re.findall(r"\d+", text.split("+")[0])[:3])


def supported(
    integration: str, distribution: str, minimum: tuple[int, ...], below: tuple[int, ...]
) -> bool:
    """Whether ``minimum <= version < below``; an unsupported or unknown version is logged once.

    The integration is then skipped: the app runs unpatched rather than against internals this
    package has not been checked against.
    """
    version = release(distribution)
    if version is not None and minimum <= version < below:
        return True
    key = (integration, distribution)
    with _lock:
        first = key not in _reported
        _reported.add(key)
    if first:
        found = ".".join(map(str, version)) if version is not None else "unknown"
        logger.warning(
            "toolaudit: integration %s skipped: %s %s is outside the supported range >=%s,<%s",
            integration,
            distribution,
            found,
            ".".join(map(str, minimum)),
            ".".join(map(str, below)),
        )
    return False
