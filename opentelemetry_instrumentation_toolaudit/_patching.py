# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Patch functions with wrapt and put back exactly what was there.

``opentelemetry.instrumentation.utils.unwrap`` restores through ``getattr``, which returns a bound
method for classmethods; here the raw object in the owner's ``__dict__`` is remembered instead, so
``uninstrument()`` leaves every patched attribute identical (``is``) to the original.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import wrapt

from opentelemetry_instrumentation_toolaudit._log import internal_error

_MISSING = object()


class Patcher:
    """Applies wrapt wrappers and undoes all of them, most recent first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patches: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, wrapper: Callable[..., Any]) -> bool:
        """Wrap ``owner.attr`` with ``wrapper(wrapped, instance, args, kwargs)``; False if absent."""
        with self._lock:
            if any(o is owner and a == attr for o, a, _ in self._patches):
                return True
            raw = vars(owner).get(attr, _MISSING) if hasattr(owner, "__dict__") else _MISSING
            current = getattr(owner, attr, _MISSING)
            if current is _MISSING:
                return False
            target = raw if raw is not _MISSING else current
            setattr(owner, attr, wrapt.FunctionWrapper(target, wrapper))  # type: ignore[arg-type]
            self._patches.append((owner, attr, raw))
            return True

    def restore_all(self) -> None:
        """Put every patched attribute back as it was."""
        with self._lock:
            patches, self._patches = self._patches, []
        for owner, attr, raw in reversed(patches):
            try:
                if raw is _MISSING:
                    delattr(owner, attr)
                else:
                    setattr(owner, attr, raw)
            except Exception as exc:  # noqa: BLE001
                internal_error(f"restoring {attr}", exc)

    def __len__(self) -> int:
        return len(self._patches)


def resolve(module: Any, qualname: str) -> tuple[Any, str]:
    """``(owner, attribute)`` for ``Registry.call`` in ``module``; raises AttributeError."""
    *path, attr = qualname.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    getattr(owner, attr)
    return owner, attr
