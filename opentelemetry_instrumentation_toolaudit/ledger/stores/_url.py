# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Sink URLs: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, the same for ``jsonl``.

As in SQLAlchemy, the path is whatever follows ``scheme:///``: ``sqlite:///toolaudit.db`` is
``toolaudit.db`` in the working directory, ``sqlite:////var/lib/toolaudit/audit.db`` (four slashes)
is absolute. ``~`` is expanded.

:func:`redact_url` is what every message, log line and exception text of this package shows of a
sink URL: the password (``user:***@host``, ``password=***``) is never printed.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError

REDACTED = "***"
# scheme://user:PASSWORD@ : the user part stops at the first ':' (or '/', '?', '#', '@'); the
# password runs to the last '@' on the line, so a password holding '@', '/', '?' or a space is
# hidden whole (a line with an '@' later on is over-masked rather than leaked).
_USERINFO_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)[^\n]*@")
# password=... in a URL query or a libpq "key=value" conninfo (also sslpassword=...), quoted or not.
_KEYWORD_PASSWORD = re.compile(
    r"(?P<head>password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;\"']*)",
    re.IGNORECASE,
)


def redact_url(url: object) -> str:
    """``url`` (or any text quoting one) with every password masked.

    ``postgresql://user:secret@host/db`` shows as ``postgresql://user:***@host/db`` and
    ``...?password=secret`` as ``...?password=***``; URLs without a password are unchanged."""
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}@", str(url))
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}", text)


def passwords_in(url: str) -> list[str]:
    """The passwords ``url`` holds (userinfo, ``password=``), as written and percent-decoded, so
    a message quoting one of them (libpq quotes a bad token alone) can be withheld."""
    found = [m.group(0)[len(m["head"]) : -1] for m in _USERINFO_PASSWORD.finditer(url)]
    found += [m.group(0)[len(m["head"]) :].strip("'\"") for m in _KEYWORD_PASSWORD.finditer(url)]
    return [p for raw in found for p in {raw, urllib.parse.unquote(raw)} if p]


def path_from_url(url: str, scheme: str) -> str:
    """The file path a ``scheme:///path`` URL names."""
    prefix = f"{scheme}:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise SinkError(
            f"bad {scheme} sink URL {redact_url(url)!r}: use {scheme}:///relative/path or "
            f"{scheme}:////absolute/path"
        )
    return os.path.expanduser(url[len(prefix) :])
