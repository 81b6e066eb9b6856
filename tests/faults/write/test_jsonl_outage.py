# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A JSONL batch whose write fails is never taken as stored."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink
from tests.audit.conftest import body

from .conftest import unwritable, verified_size


def test_a_batch_that_failed_to_write_is_written_by_the_retry(tmp_path, signer):
    """When both the write and the cut back fail, the batch is not taken as stored: the retry
    writes it, and each record is in the log exactly once."""
    url = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    log = AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600)
    log.append([body(0)])
    with unwritable(tmp_path / "audit.jsonl"), pytest.raises(SinkError, match="append failed"):
        log.append([body(1), body(2)])
    stored = log.append([body(1), body(2), body(3)], skip_existing=True)
    log.close()
    assert [r.seq for r in stored] == [1, 2, 3]
    assert verified_size(url, signer) == 4
