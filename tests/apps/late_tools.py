# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Imported only after instrument(), to test post-import patching."""

from __future__ import annotations

from typing import Any


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    return f"ran {name}"
