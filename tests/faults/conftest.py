# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit tests' sink fixtures (``sink_url`` over SQLite, JSONL and PostgreSQL), for the fault trials."""

from tests.audit.conftest import pg_url, signer, sink_url  # noqa: F401 - fixtures, used by name
