# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

from ..audit.conftest import pg_url, signer  # noqa: F401 - fixtures shared with the audit tests
