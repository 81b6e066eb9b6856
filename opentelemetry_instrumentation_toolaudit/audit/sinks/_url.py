"""Sink URLs: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, the same for ``jsonl``.

As in SQLAlchemy, the path is whatever follows ``scheme:///``: ``sqlite:///toolaudit.db`` is
``toolaudit.db`` in the working directory, ``sqlite:////var/lib/toolaudit/audit.db`` (four slashes)
is absolute. ``~`` is expanded.
"""

from __future__ import annotations

import os

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError


def redact_url(url: str) -> str:
    """The URL without a password, for messages and results."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def path_from_url(url: str, scheme: str) -> str:
    """The file path a ``scheme:///path`` URL names."""
    prefix = f"{scheme}:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise SinkError(
            f"bad {scheme} sink URL {url!r}: use {scheme}:///relative/path or {scheme}:////absolute/path"
        )
    return os.path.expanduser(url[len(prefix) :])
