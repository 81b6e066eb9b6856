# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

from tests.audit.conftest import pg_url, sink_url  # noqa: F401 - fixtures shared with the audit tests
