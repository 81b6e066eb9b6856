# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit serve` refuses bad options with exit 2 and one line naming what to fix."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--http", "", "--grpc", ""], "--http and --grpc are both disabled: nothing to serve"),
        (["--tls-cert", "server.crt"], "--tls-cert and --tls-key go together"),
        (["--client-ca", "ca.crt"], "--client-ca needs --tls-cert and --tls-key"),
        (["--http", "nonsense", "--grpc", ""], "not a host:port address: 'nonsense'"),
        (["--bearer-token-file", "missing-token"], "missing-token: cannot read the token"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    """Each bad option combination exits 2 with one line on stderr saying what is wrong."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    code = main(["serve", "--sink", f"sqlite:///{tmp_path}/audit.db", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"toolaudit serve: error: {message}")


def test_unreachable_sink_is_named_with_its_password_masked(tmp_path, monkeypatch, capsys):
    """A sink that cannot be opened is reported as --sink's, with the URL's password masked."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    url = "postgresql://writer:hunter2-secret@127.0.0.1:1/audit?connect_timeout=2"
    assert main(["serve", "--sink", url, "--grpc", ""]) == 2
    err = capsys.readouterr().err
    assert "hunter2-secret" not in err
    assert err.startswith("toolaudit serve: error: postgresql://writer:***@127.0.0.1:1/audit")
    assert err.rstrip().endswith("(check --sink)")
