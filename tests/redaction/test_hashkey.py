# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The hash key: loaded or created once (0600, logged by path only), shared by racing processes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.redaction import HashKey, RedactionPolicy
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import load_or_create_key_file

LOGGER = "opentelemetry_instrumentation_toolaudit"


@pytest.fixture
def env_without_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", raising=False)
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID", raising=False)
    path = tmp_path / "keys" / "hash.key"
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(path))
    return path


def test_missing_key_file_created_0600_and_logged_by_path(env_without_key, caplog):
    """A missing key is generated once, stored 0600, and the log names the path, never the key."""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        key = HashKey.from_env()
    path = env_without_key
    secret = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 64
    created = [r.getMessage() for r in caplog.records if "created a new hash key" in r.getMessage()]
    assert len(created) == 1
    assert str(path) in created[0]
    assert secret not in caplog.text
    assert key.ephemeral is False


def test_key_file_reused_across_loads(env_without_key, caplog):
    """A second load reads the same key: pseudonyms are stable across restarts."""
    first = RedactionPolicy.from_env().pseudonym("jane@example.com")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        second = RedactionPolicy.from_env().pseudonym("jane@example.com")
    assert first == second
    assert "created" not in caplog.text


def test_inline_key_wins_over_file(env_without_key, monkeypatch):
    """OTEL_PYTHON_TOOLAUDIT_HASH_KEY is used as is and no file is created."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "inline-key-0123456789abcdef")
    key = HashKey.from_env()
    assert key.pseudonym("x") == HashKey(b"inline-key-0123456789abcdef").pseudonym("x")
    assert env_without_key.exists() is False


def test_same_key_in_env_or_file_gives_same_pseudonyms(env_without_key, monkeypatch):
    """A key moved from a file into the environment keeps every pseudonym (and key id) the same."""
    from_file = HashKey.from_env().pseudonym("x")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", env_without_key.read_text().strip())
    assert HashKey.from_env().pseudonym("x") == from_file


def test_unusable_key_file_falls_back_to_ephemeral(monkeypatch, tmp_path, caplog):
    """If the key file can be neither read nor created, an ephemeral key is used, with a warning."""
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", raising=False)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE", str(blocker / "hash.key"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        key = HashKey.from_env()
    assert key.ephemeral is True
    assert any("ephemeral" in r.getMessage() for r in caplog.records)


def test_permissive_key_file_warned(env_without_key, caplog):
    """A key file readable by others is reported (by path) so it can be fixed."""
    path = env_without_key
    path.parent.mkdir(parents=True)
    path.write_text("shared-key-0123456789abcdef\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        HashKey.from_env()
    assert any(
        "group or others" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
    )


def test_short_inline_key_refused(monkeypatch, caplog):
    """A key shorter than 16 characters is not used: the ephemeral key is, with the fallback's
    warning, which shows neither the key nor its length."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "  s3cr3t-word  ")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        key = HashKey.from_env()
    (message,) = [r.getMessage() for r in caplog.records]
    assert (key, key.ephemeral) == (HashKey.ephemeral_key(), True)
    assert message == (
        "toolaudit: OTEL_PYTHON_TOOLAUDIT_HASH_KEY is shorter than 16 characters; using an "
        "ephemeral per-process key: pseudonyms will not be stable across processes (set "
        "OTEL_PYTHON_TOOLAUDIT_HASH_KEY or OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE)"
    )
    assert ("s3cr3t" in message, "11" in message) == (False, False)


def test_short_key_file_refused(env_without_key, caplog):
    """A key file holding fewer than 16 characters is refused the same way, named by its path."""
    path = env_without_key
    path.parent.mkdir(parents=True)
    path.write_text("tiny-key\n")
    os.chmod(path, 0o600)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        key = HashKey.from_env()
    assert key.ephemeral is True
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        f"toolaudit: the hash key in {path} is shorter than 16 characters"
    ]


def test_short_key_rejected_in_code():
    """RedactionPolicy(hash_key=...) with a short key is a clear configuration error."""
    with pytest.raises(ValueError, match="shorter than 16"):
        RedactionPolicy(hash_key=b"short")


def test_key_id_is_a_keyed_mac_of_a_label():
    """The derived key id is HMAC-SHA256(key, label), truncated: stable for a key, different for
    another, and not the unkeyed SHA-256 of the secret it used to be."""
    secret = b"inline-key-0123456789abcdef"
    expected = "k" + hmac.new(secret, b"toolaudit key id v2", hashlib.sha256).hexdigest()[:8]
    old_style = "k" + hashlib.sha256(b"toolaudit-key-id\x00" + secret).hexdigest()[:8]
    assert (HashKey(secret).key_id, HashKey(secret).key_id) == (expected, expected)
    assert HashKey(secret).key_id not in (
        old_style,
        HashKey(b"another-key-0123456789abcdef").key_id,
    )


def test_key_id_env_overrides_derived(monkeypatch):
    """OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID replaces the derived id in every pseudonym."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "inline-key-0123456789abcdef")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID", "prod-2025")
    assert HashKey.from_env().pseudonym("x").split(":")[:2] == ["hmac-sha256", "prod-2025"]


def test_repr_hides_secret():
    """A HashKey's repr shows its id, never its secret."""
    key = HashKey(b"super-secret-key-material", "k9")
    assert repr(key) == "HashKey(key_id='k9', ephemeral=False)"


def _create(path: str, barrier: Any, queue: Any) -> None:
    barrier.wait(timeout=60)  # every process looks for the key at the same moment
    queue.put(load_or_create_key_file(Path(path)))


def test_racing_processes_agree_on_one_key(tmp_path):
    """Processes that start together and all find no key end up with the same key, in one 0600
    file (no temporary file left).

    "spawn", not "fork": the test process has threads by now (HTTP servers of other tests, timers),
    and a forked child can inherit a lock one of them held and hang, which made this test flaky."""
    path = tmp_path / "race" / "hash.key"
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(6), ctx.Queue()
    workers = [ctx.Process(target=_create, args=(str(path), barrier, queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=120) for _ in workers}
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * 6
    assert keys == {path.read_bytes().strip()}
    assert [p.name for p in path.parent.iterdir()] == ["hash.key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_is_0600_whatever_the_umask(tmp_path):
    """A restrictive umask (0o277 would leave 0400) does not change the created file's mode."""
    previous = os.umask(0o277)
    try:
        secret = load_or_create_key_file(tmp_path / "k" / "hash.key")
    finally:
        os.umask(previous)
    path = tmp_path / "k" / "hash.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().strip() == secret


def test_remembered_pseudonyms_equal_computed_ones():
    """A pseudonym served from the key's cache is the HMAC it names, before and after the cache fills."""
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import MAX_CACHED_PSEUDONYMS

    key = HashKey(b"k" * 32, "k1")
    expected = f"hmac-sha256:k1:{key.hexdigest(b'jane@example.com')[:32]}"
    assert [key.pseudonym("jane@example.com"), key.pseudonym(b"jane@example.com")] == [expected] * 2
    for n in range(MAX_CACHED_PSEUDONYMS + 1):
        key.pseudonym(f"user{n}@example.com")
    assert key.pseudonym("jane@example.com") == expected
