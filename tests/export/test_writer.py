# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RecordWriter: the OpenTelemetry-free writer the exporter and an OTLP receiver share."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

import opentelemetry_instrumentation_toolaudit as pkg
from opentelemetry_instrumentation_toolaudit.export import RecordWriter, new_event_id
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

PACKAGE = Path(pkg.__file__).parent
OTEL_FREE = ("export/_writer.py", "export/_records.py", "export/_retention.py", "_env.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    for candidate in (PACKAGE.joinpath(*parts).with_suffix(".py"),):
        if parts and candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("relative", OTEL_FREE)
def test_writer_and_record_building_import_no_opentelemetry(relative):
    """The writer, span → record and the retention policy import no opentelemetry module, directly
    or through this package's modules they use."""
    seen: set[Path] = set()
    todo = [PACKAGE / relative]
    otel: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                otel.add(f"{path.name}: {name}")
            elif name.startswith("opentelemetry_instrumentation_toolaudit."):
                found = _module_file(name)
                if found is not None:
                    todo.append(found)
    assert otel == set()


def _body(order: str) -> dict[str, object]:
    return {"event_id": new_event_id(), "event_type": "tool.call", "tool_name": order}


def test_records_wait_while_the_log_cannot_be_opened_and_are_written_after(tmp_path):
    """While the log cannot be opened the bodies wait in the buffer; a flush once it can writes
    them all, once, in order."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    signer = NoteSigner.from_file(tmp_path / "signing.key")
    available = False

    def open_log() -> AuditLog:
        if not available:
            raise OSError("not yet")
        return AuditLog(open_sink(url), signer=signer)

    writer = RecordWriter(open_log, retry_interval=3600)
    assert writer.write([_body("a"), _body("b")]) is False
    assert writer.write([_body("c")]) is False
    assert writer.stats()["buffered"] == 3
    available = True
    assert writer.flush() is True
    writer.close()
    with open_sink(url, create=False) as sink:
        stored = [r.record["tool_name"] for r in sink.read()]
    assert stored == ["a", "b", "c"]
    assert writer.stats() == {"write_failures": 2, "records": 3, "buffered": 0}


def test_overflow_and_unwritten_records_are_counted_and_logged(caplog):
    """Beyond the buffer the newest bodies are dropped; at close what is still waiting is lost;
    both are counted and the loss is logged."""

    def never() -> AuditLog:
        raise OSError("down")

    writer = RecordWriter(never, max_buffer=2, retry_interval=3600)
    writer.write([_body("a"), _body("b"), _body("c")])
    assert writer.stats()["dropped"] == 1
    with caplog.at_level(logging.ERROR):
        writer.close()
    assert writer.stats()["dropped"] == 3
    assert "3 audit records could not be written" in caplog.text


def test_deferred_records_are_built_and_committed_by_the_writer(tmp_path):
    """A deferred body is built on the writer's thread and committed without a flush."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    log = AuditLog(open_sink(url), signer=NoteSigner.from_file(tmp_path / "signing.key"))
    writer = RecordWriter(lambda: log, log=log, retry_interval=0.05)
    writer.defer(lambda: _body("intent"))
    writer.flush()
    writer.close()
    with open_sink(url, create=False) as sink:
        assert [r.record["tool_name"] for r in sink.read()] == ["intent"]
    assert writer.stats()["intents"] == 1
