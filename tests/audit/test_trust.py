# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which keys `toolaudit verify` trusts: pinned (--public-key, the trusted-keys file) or
self-attested (the writer's .pub on this machine), and the writer's checkpoint directory."""

from __future__ import annotations

import json

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    load_trusted_keys,
    open_sink,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import SIGNATURE

from .conftest import body


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No toolaudit variable from the environment; the writer's key lives under tmp_path."""
    for name in (
        "OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS",
        "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "nokey"))


@pytest.fixture
def rotated(tmp_path):
    """A SQLite trail of 10 records: the first 5 signed by one key, the rest by its successor."""
    url = f"sqlite:///{tmp_path}/a.db"
    old, new = NoteSigner.generate("app-1"), NoteSigner.generate("app-1")
    for signer, start in ((old, 0), (new, 5)):
        with AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600) as log:
            log.append([body(i) for i in range(start, start + 5)])
    return url, old, new


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trusted_keys_file_lists_old_and_new_keys(rotated, tmp_path, monkeypatch, capsys):
    """A trusted-keys file listing a key and its successor (comments and blank lines ignored)
    verifies the checkpoints each signed, and the result is pinned."""
    url, old, new = rotated
    trusted = tmp_path / "trusted_keys"
    trusted.write_text(f"# pinned\n\n{old.verifier.vkey()}\n  {new.verifier.vkey()}  \n")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS", str(trusted))
    code, out, err = run(capsys, "verify", url, "--format", "json")
    document = json.loads(out)
    assert (code, document["ok"], document["key_pinned"], document["checkpoints"]) == (
        0,
        True,
        True,
        2,
    )
    assert err.startswith("OK: 10 records")


def test_trusted_keys_file_without_the_old_key_fails(rotated, tmp_path, monkeypatch, capsys):
    """A checkpoint signed by a key the trusted-keys file does not list fails its signature."""
    url, _, new = rotated
    trusted = tmp_path / "trusted_keys"
    trusted.write_text(new.verifier.vkey() + "\n")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS", str(trusted))
    code, out, _ = run(capsys, "verify", url)
    assert (code, "is signed by another key" in out) == (1, True)


def test_public_key_may_be_given_for_each_key(rotated, tmp_path, capsys):
    """--public-key repeated pins several keys, and wins over the trusted-keys file."""
    url, old, new = rotated
    (tmp_path / "old.pub").write_text(old.verifier.vkey())
    code, out, _ = run(
        capsys,
        "verify",
        url,
        "--public-key",
        str(tmp_path / "old.pub"),
        "--public-key",
        new.verifier.vkey(),
    )
    assert (code, out.startswith("OK: 10 records")) == (0, True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the trusted keys {path}: No such file or directory"),
        ("# nothing pinned yet\n\n", "trusted keys {path}: no verifier key in the file"),
        ("app-1+00000000+AAAA\n", "trusted keys {path}, line 1: malformed verifier key"),
    ],
)
def test_unusable_trusted_keys_file_is_a_usage_error(
    rotated, tmp_path, monkeypatch, capsys, content, message
):
    """A trusted-keys file that is missing, empty or malformed is an error (exit 2) naming the
    file, the line and the variable; verify never falls back to the writer's key."""
    url, _, _ = rotated
    path = tmp_path / "trusted_keys"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS", str(path))
    code, out, err = run(capsys, "verify", url)
    assert (code, out) == (2, "")
    assert err.startswith(f"toolaudit verify: error: {message.format(path=path)}")
    assert "(set by OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS)" in err


def test_missing_checkpoint_dir_from_the_environment_is_a_usage_error(
    rotated, tmp_path, monkeypatch, capsys
):
    """OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR naming no directory is an error naming the variable."""
    url, _, _ = rotated
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR", str(tmp_path / "gone"))
    code, _, err = run(capsys, "verify", url)
    assert code == 2
    assert err == (
        "toolaudit verify: error: checkpoint directory (set by "
        f"OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR) {tmp_path / 'gone'}: no such directory\n"
    )


def test_library_results_say_whether_the_key_was_pinned(rotated):
    """verify() treats a given key as pinned unless told otherwise; without a key nothing is
    pinned and the OK line says the trail is unanchored."""
    url, old, new = rotated
    keys = [old.verifier, new.verifier]
    with open_sink(url, create=False) as sink:
        pinned = verify(sink, public_key=keys)
        attested = verify(sink, public_key=keys, key_pinned=False)
        unkeyed = verify(sink)
    assert [(r.ok, r.key_pinned) for r in (pinned, attested, unkeyed)] == [
        (True, True),
        (True, False),
        (True, False),
    ]
    assert pinned.summary().startswith("OK: 10 records")
    assert attested.summary().startswith(
        "OK (self-attested: key from this machine, not pinned): 10 records"
    )
    assert "unanchored: no public key given" in unkeyed.summary()


def test_load_trusted_keys_reads_every_listed_key(tmp_path):
    """load_trusted_keys returns the listed keys in order, skipping comments and blank lines."""
    a, b = NoteSigner.generate("a"), NoteSigner.generate("b")
    path = tmp_path / "trusted_keys"
    path.write_text(f"# keys\n{a.verifier.vkey()}\n\n# and\n{b.verifier.vkey()}\n")
    assert load_trusted_keys(path) == [a.verifier, b.verifier]


def test_self_attested_key_signing_nothing_here_fails(rotated, tmp_path, monkeypatch, capsys):
    """The writer's .pub found on this machine is used (and named on stderr) when nothing is
    pinned: one that signed none of the checkpoints fails them."""
    url, _, _ = rotated
    key_file = tmp_path / "keys" / "signing.key"
    NoteSigner.from_file(key_file)  # another key, with its .pub beside it
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(key_file))
    code, out, err = run(capsys, "verify", url, "--format", "json")
    document = json.loads(out)
    assert (code, document["key_pinned"], document["problems"][0]["kind"]) == (1, False, SIGNATURE)
    assert document["key_source"] == f"{key_file}.pub"
    assert f"key: {key_file}.pub, found beside the writer's signing key" in err
