# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit witness --tls-cert/--tls-key`` serves HTTPS; the writer trusts a private CA named by
``OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE``, and a witness certificate it does not trust is a
logged, counted failure that never holds up an append."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import _log
from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE,
    OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT,
    OTEL_PYTHON_TOOLAUDIT_WITNESSES,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint
from opentelemetry_instrumentation_toolaudit.witness import cosignatures
from tests._pki import make_pki
from tests.audit._tamper import read_checkpoints, read_rows
from tests.interop._cli import toolaudit
from tests.witness.conftest import WitnessProcess
from tests.witness.test_witness import verify, write


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    return make_pki(tmp_path)


@pytest.fixture
def https_witness(tmp_path: Path, log_signer, pki) -> Iterator[WitnessProcess]:
    """A running witness serving HTTPS with a certificate issued by the test CA."""
    process = WitnessProcess(
        tmp_path,
        tmp_path / "log.vkey",
        "--tls-cert",
        str(pki["cert"]),
        "--tls-key",
        str(pki["key"]),
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_https_witness_cosigns_with_a_private_ca(
    tmp_path, log_signer, https_witness, pki, monkeypatch
):
    """A witness on https:// whose certificate chains to the CA file cosigns the writer's
    checkpoints, and verify --witness passes."""
    assert https_witness.url.startswith("https://127.0.0.1:")
    assert https_witness.verifier is not None
    monkeypatch.setenv(
        OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"{https_witness.url}={https_witness.verifier.vkey()}"
    )
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE, str(pki["ca"]))
    url = f"sqlite:///{tmp_path}/audit.db"
    log = write(url, log_signer, 0, 7)
    log.close()
    assert log.witnesses is not None and log.witnesses.failures == 0
    latest = read_checkpoints(url)[-1]
    assert open_checkpoint(latest)[0].size == 7
    assert [c.name for c in cosignatures(latest, [https_witness.verifier])] == ["witness.test/w1"]
    result = verify(tmp_path, url, "--witness", https_witness.verifier.vkey())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("ca", [None, "other_ca"])
def test_untrusted_witness_certificate_is_a_counted_failure(
    ca, tmp_path, log_signer, https_witness, pki, monkeypatch, caplog
):
    """Without the witness's CA (no CA file, or another CA's), every append commits, the failure
    is logged once with its reason and counted, no cosignature is stored, and the URL's password
    is not logged."""
    monkeypatch.setattr(_log, "_counts", collections.Counter())  # so this failure is logged
    assert https_witness.verifier is not None
    authority = https_witness.url.replace("https://", "https://auditor:s3cret-pw@")
    monkeypatch.setenv(
        OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"{authority}={https_witness.verifier.vkey()}"
    )
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT, "2")
    if ca is None:
        monkeypatch.delenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE, raising=False)
    else:
        monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE, str(pki[ca]))
    url = f"sqlite:///{tmp_path}/audit.db"
    with caplog.at_level("WARNING", logger="opentelemetry_instrumentation_toolaudit"):
        log = write(url, log_signer, 0, 12)
        log.close()
    assert len(read_rows(url)) == 12
    assert log.witnesses is not None and log.witnesses.failures >= 1
    assert _log.error_counts()["witness submission"] == log.witnesses.failures
    assert caplog.text.count("witness submission failed") == 1
    assert "its TLS certificate is not trusted" in caplog.text
    assert "s3cret-pw" not in caplog.text
    assert all(cosignatures(n, [https_witness.verifier]) == [] for n in read_checkpoints(url))


def test_unreadable_witness_ca_file_is_a_configuration_error(tmp_path, log_signer, monkeypatch):
    """A CA file that cannot be read, or holds no certificate, stops the audit log from opening
    with a one-line error naming the variable."""
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, "https://witness.example=" + _vkey())
    for content, reason in ((None, "cannot read"), ("not a certificate\n", "holds no PEM")):
        path = tmp_path / "ca.pem"
        if content is not None:
            path.write_text(content)
        monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE, str(path))
        with pytest.raises(ToolAuditError) as raised:
            AuditLog(open_sink(f"sqlite:///{tmp_path}/audit.db"), signer=log_signer)
        assert str(raised.value).startswith(OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE)
        assert reason in str(raised.value)


def _vkey() -> str:
    from opentelemetry_instrumentation_toolaudit.witness import Cosigner

    return Cosigner.generate("witness.test/w2").verifier.vkey()


def test_witness_tls_usage_errors(tmp_path, log_signer, pki):
    """--tls-cert without --tls-key, or a key that is not PEM: exit 2 with one line."""
    base = ["witness", "--key", tmp_path / "w.key", "--state", tmp_path / "state"]
    base += ["--listen", "127.0.0.1:0", "--log-key", tmp_path / "log.vkey"]
    result = toolaudit(*base, "--tls-cert", pki["cert"])
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().endswith("--tls-cert and --tls-key go together")
    assert len(result.stderr.splitlines()) == 1
    result = toolaudit(*base, "--tls-cert", pki["cert"], "--tls-key", pki["ca"])
    assert (result.returncode, result.stdout) == (2, "")
    assert "cannot load the TLS certificate" in result.stderr
    assert len(result.stderr.splitlines()) == 1
