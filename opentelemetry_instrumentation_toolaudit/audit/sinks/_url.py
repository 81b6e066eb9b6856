"""Sink URLs: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, the same for ``jsonl``.

As in SQLAlchemy, the path is whatever follows ``scheme:///``: ``sqlite:///toolaudit.db`` is
``toolaudit.db`` in the working directory, ``sqlite:////var/lib/toolaudit/audit.db`` (four slashes)
is absolute. ``~`` is expanded.
"""

from __future__ import annotations

import os

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError


def path_from_url(url: str, scheme: str) -> str:
    """The file path a ``scheme:///path`` URL names."""
    prefix = f"{scheme}:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise SinkError(
            f"bad {scheme} sink URL {url!r}: use {scheme}:///relative/path or {scheme}:////absolute/path"
        )
    return os.path.expanduser(url[len(prefix) :])
