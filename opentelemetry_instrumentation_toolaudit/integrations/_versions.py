# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Check a framework's installed version before patching it; say so once when it is not supported."""

from __future__ import annotations

import importlib.metadata
import threading

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from opentelemetry_instrumentation_toolaudit._log import logger

_lock = threading.Lock()
_reported: set[str] = set()


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_supported(integration: str, distribution: str, supported: str) -> bool:
    """Whether ``distribution`` is installed at a version in ``supported`` (a PEP 440 range).

    When it is not, the integration is skipped: that is logged once per integration, never raised.
    """
    version = installed_version(distribution)
    try:
        ok = version is not None and SpecifierSet(supported).contains(
            Version(version), prereleases=True
        )
    except InvalidVersion:
        ok = False
    if not ok:
        with _lock:
            first = integration not in _reported
            _reported.add(integration)
        # A module of that name from another distribution is not ours to patch: no warning then.
        log = logger.warning if version is not None else logger.info
        if first:
            log(
                "toolaudit: integration %s skipped: %s %s is not in the supported range %s",
                integration,
                distribution,
                version or "(not installed)",
                supported,
            )
    return ok
