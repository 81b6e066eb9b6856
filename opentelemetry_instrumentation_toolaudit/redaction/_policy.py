# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The redaction policy: what is removed from values before they leave the process.

Three layers, applied to any JSON-safe value (and to span attributes by the span processor):

* keys: values under secret keys become ``***REDACTED***``; values under personal-data keys become
  keyed pseudonyms; values under network-address keys follow ``attribution_addresses``;
* free text: detectors find emails, SSNs, cards, phones, IBANs, IP addresses and secrets, replaced by
  typed placeholders (``<CREDIT_CARD>``), keyed for linkable kinds (``<EMAIL:hmac-sha256:k…:…>``);
* JSON inside strings is parsed and redacted as structure, then written back.

``redact`` never raises (on an internal failure it returns ``***REDACTED***``: fail closed), keeps the
shape, and is idempotent; ``findings`` names the kinds ``redact`` would remove, so
``findings(redact(x)) == []``.
"""

from __future__ import annotations

import collections
import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from opentelemetry_instrumentation_toolaudit._env import (
    read_bool,
    read_choice,
    read_list,
    read_str,
)
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_ATTRIBUTION_ADDRESSES,
    OTEL_PYTHON_TOOLAUDIT_CONTENT,
    OTEL_PYTHON_TOOLAUDIT_KEEP_KEYS,
    OTEL_PYTHON_TOOLAUDIT_PRESIDIO,
    OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS,
    OTEL_PYTHON_TOOLAUDIT_REDACT_DISABLED_KINDS,
    OTEL_PYTHON_TOOLAUDIT_REDACT_KEYS,
    OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE,
)
from opentelemetry_instrumentation_toolaudit.redaction import _checks
from opentelemetry_instrumentation_toolaudit.redaction._builtin import builtin_detectors
from opentelemetry_instrumentation_toolaudit.redaction._detectors import (
    PROTECTED,
    Detector,
    Finding,
    PatternDetector,
    Scanner,
)
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import PSEUDONYM_RE, HashKey
from opentelemetry_instrumentation_toolaudit.redaction._keys import (
    DEFAULT_PSEUDONYM_KEYS,
    DEFAULT_SECRET_KEYS,
    PLAIN,
    PSEUDONYM,
    REDACTED,
    SECRET,
    KeyRules,
    normalize_key,
)
from opentelemetry_instrumentation_toolaudit.redaction._placeholders import (
    findings_isolated,
    normalize_for,
    placeholder_label,
)
from opentelemetry_instrumentation_toolaudit.redaction._profiles import profile_names, profiles

DEFAULT_PSEUDONYMIZE_KINDS = frozenset({"email", "phone", "ip_address", "mrn"})
ADDRESS_MODES = ("keep", "pseudonymize", "redact")
CONTENT_MODES = ("hash", "redact")
SECRET_KEY_KIND = "secret_key"
PII_KEY_KIND = "pii_key"
NETWORK_ADDRESS_KIND = "ip_address"
MAX_DEPTH = 64
MAX_PASSES = 3
"""Redaction passes over one string before giving up on it and replacing it whole."""
WHOLE_STRING = "<REDACTED>"
_SHORTEST_FINDING = 6  # "a@b.co"; no built-in kind fits in fewer characters
# All-letter strings hold no built-in finding except AWS key ids and Google keys, which start so.
_ALPHA_RISKY = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "AIza")  # fmt: skip
_KEY_CACHE_MAX = 8192
_TEXT_CACHE_LEN = 256
"""Strings up to this length have their result cached: telemetry repeats the same short values."""


def _env_list(name: str) -> list[str]:
    return list(read_list(name))


def _key_value_kind(norm_key: str) -> str:
    if "email" in norm_key or norm_key == "mail":
        return "email"
    if any(word in norm_key for word in ("phone", "mobile", "tel", "fax")):
        return "phone"
    return PII_KEY_KIND


class RedactionPolicy:
    """Decides what is removed from a value before it leaves the process.

    ``RedactionPolicy()`` with no ``hash_key`` uses an ephemeral per-process key (a warning is logged
    the first time it makes a pseudonym): pseudonyms are then stable within the process only. Use
    :meth:`from_env` (or pass ``hash_key``) for pseudonyms that link across processes and restarts.

    Arguments (all keyword-only):

    * ``hash_key``: the HMAC key (bytes, str or :class:`HashKey`); ``key_id`` names it.
    * ``secret_keys`` / ``pseudonym_keys``: replace the default key vocabularies;
      ``extra_secret_keys`` / ``extra_pseudonym_keys`` add to them; ``keep_keys`` removes keys.
    * ``detectors``: replace the built-in free-text detectors; ``extra_detectors`` add callables
      (``detector(text) -> Iterable[Finding]``); ``disabled_kinds`` turns kinds off.
    * ``pseudonymize_kinds``: kinds whose placeholder carries a keyed pseudonym (default email,
      phone, ip_address, mrn); other kinds get a bare typed placeholder such as ``<CREDIT_CARD>``.
    * ``profile``: ``hipaa``, ``pci``, ``gdpr`` or ``default`` (or several, ``"hipaa,pci"``): key
      vocabularies and free-text detectors added for a regulation (see docs/redaction.md).
    * ``attribution_addresses``: ``keep`` (default), ``pseudonymize`` or ``redact`` IP addresses under
      network-address keys (``client.address``...), which attribute a call.
    * ``content``: ``hash`` (default) replaces prompt/response attributes with keyed hashes and
      sizes; ``redact`` keeps their text, redacted.
    * ``cache_size``: how many short strings (up to 256 characters) keep their result, since
      telemetry repeats the same values (user ids, models, statuses); 0 turns the cache off.
    """

    REDACTED: ClassVar[str] = REDACTED
    """What values under secret keys become: ``***REDACTED***``."""

    def __init__(
        self,
        *,
        hash_key: bytes | str | HashKey | None = None,
        key_id: str | None = None,
        secret_keys: Iterable[str] | None = None,
        extra_secret_keys: Iterable[str] = (),
        pseudonym_keys: Iterable[str] | None = None,
        extra_pseudonym_keys: Iterable[str] = (),
        keep_keys: Iterable[str] = (),
        detectors: Sequence[Detector] | None = None,
        extra_detectors: Sequence[Detector] = (),
        disabled_kinds: Iterable[str] = (),
        pseudonymize_kinds: Iterable[str] | None = None,
        attribution_addresses: str = "keep",
        content: str = "hash",
        cache_size: int = 4096,
        profile: str | Iterable[str] | None = None,
    ) -> None:
        chosen_profiles = profiles(profile_names(profile))
        self.profile: tuple[str, ...] = tuple(p.name for p in chosen_profiles) or ("default",)
        """The redaction profiles in effect."""
        if isinstance(hash_key, HashKey):
            self._hash_key: HashKey | None = hash_key
        elif hash_key is not None:
            secret = hash_key.encode("utf-8") if isinstance(hash_key, str) else bytes(hash_key)
            self._hash_key = HashKey(secret, key_id)
        else:
            self._hash_key = None
        if attribution_addresses not in ADDRESS_MODES:
            raise ValueError(f"attribution_addresses must be one of {ADDRESS_MODES}")
        if content not in CONTENT_MODES:
            raise ValueError(f"content must be one of {CONTENT_MODES}")
        self.attribution_addresses = attribution_addresses
        self.content = content
        secrets = [
            *(DEFAULT_SECRET_KEYS if secret_keys is None else secret_keys),
            *extra_secret_keys,
            *(key for p in chosen_profiles for key in p.redact_keys),
        ]
        pseudonyms = [
            *(DEFAULT_PSEUDONYM_KEYS if pseudonym_keys is None else pseudonym_keys),
            *extra_pseudonym_keys,
            *(key for p in chosen_profiles for key in p.pseudonym_keys),
        ]
        keep = list(keep_keys)
        self._keys = KeyRules(secrets, pseudonyms, keep)
        disabled = frozenset(disabled_kinds)
        # A profile's detectors come first: they are the more specific (a track holds a card number).
        chosen = [
            *(d for p in chosen_profiles for d in p.detectors()),
            *(builtin_detectors() if detectors is None else detectors),
            *extra_detectors,
        ]
        chosen = [d for d in chosen if getattr(d, "kind", None) not in disabled]
        # What decides this policy's output, but for the hash key (see rules_id).
        self._rules: tuple[Any, ...] = (
            tuple(secrets),
            tuple(pseudonyms),
            tuple(keep),
            tuple(_detector_rules(d) for d in chosen),
            frozenset(
                DEFAULT_PSEUDONYMIZE_KINDS if pseudonymize_kinds is None else pseudonymize_kinds
            ),
            attribution_addresses,
            content,
        )
        self._rules_id: tuple[Any, ...] | None = None
        self._disabled = disabled
        self._scanner = Scanner(chosen)
        # Short and all-letter strings can skip the scan only when every detector is built in.
        self._builtin_only = all(getattr(d, "builtin", False) is True for d in chosen)
        self._pseudonymize = frozenset(
            DEFAULT_PSEUDONYMIZE_KINDS if pseudonymize_kinds is None else pseudonymize_kinds
        )
        self._text_cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._cache_size = max(0, cache_size)
        self._key_cache: dict[str, tuple[int, str, tuple[str, ...]]] = {}

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_env(cls, **overrides: Any) -> RedactionPolicy:
        """The policy the environment configures, with its persistent hash key (loaded or created).

        Reads ``OTEL_PYTHON_TOOLAUDIT_HASH_KEY`` / ``_HASH_KEY_FILE`` / ``_HASH_KEY_ID``,
        ``_REDACT_KEYS``, ``_PSEUDONYM_KEYS``, ``_KEEP_KEYS``, ``_REDACT_DISABLED_KINDS``,
        ``_ATTRIBUTION_ADDRESSES``, ``_CONTENT``, ``_PRESIDIO`` and ``_REDACTION_PROFILE``. Invalid
        values are logged and ignored; keyword ``overrides`` win over the environment.
        """
        kwargs: dict[str, Any] = {
            "extra_secret_keys": _env_list(OTEL_PYTHON_TOOLAUDIT_REDACT_KEYS),
            "extra_pseudonym_keys": _env_list(OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS),
            "keep_keys": _env_list(OTEL_PYTHON_TOOLAUDIT_KEEP_KEYS),
            "disabled_kinds": _env_list(OTEL_PYTHON_TOOLAUDIT_REDACT_DISABLED_KINDS),
        }
        for name, key, allowed in (
            (OTEL_PYTHON_TOOLAUDIT_ATTRIBUTION_ADDRESSES, "attribution_addresses", ADDRESS_MODES),
            (OTEL_PYTHON_TOOLAUDIT_CONTENT, "content", CONTENT_MODES),
        ):
            value = read_choice(name, "", allowed)
            if value:
                kwargs[key] = value
        try:
            kwargs["profile"] = profile_names(read_str(OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE))
        except ValueError as exc:
            logger.warning(
                "toolaudit: %s: %s; using the default profile",
                OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE,
                exc,
            )
        if read_bool(OTEL_PYTHON_TOOLAUDIT_PRESIDIO, False):
            from opentelemetry_instrumentation_toolaudit.redaction._presidio import (
                presidio_from_env,
            )

            presidio = presidio_from_env()
            if presidio is not None:
                kwargs["extra_detectors"] = [presidio]
        kwargs.update(overrides)
        if "hash_key" not in kwargs:
            kwargs["hash_key"] = HashKey.from_env()
        return cls(**kwargs)

    @property
    def hash_key(self) -> HashKey:
        """The key pseudonyms are made with (the process's ephemeral key if none was given)."""
        key = self._hash_key
        if key is None:
            key = self._hash_key = HashKey.ephemeral_key()
            _warn_ephemeral()
        return key

    @property
    def rules_id(self) -> tuple[Any, ...]:
        """Equal for two policies that redact every value the same way: the same key vocabularies,
        detectors (a detector that is not built in counts as itself), modes and hash key. Never
        holds the key: it is identified by its id and a keyed digest of a fixed text. A policy
        without a hash key (an ephemeral one is made on first use) matches only itself."""
        rules = self._rules_id
        if rules is None:
            key = self._hash_key
            rules = self._rules_id = (
                (*self._rules, "ephemeral", object())
                if key is None
                else (*self._rules, key.key_id, key.hexdigest(b"toolaudit redaction rules"))
            )
        return rules

    # --- the public operations ------------------------------------------------------------------
    def pseudonym(self, value: Any) -> str:
        """A stable keyed pseudonym, ``hmac-sha256:<key id>:<32 hex>``, of ``value`` (str or bytes;
        other values by their ``str``)."""
        data = value if isinstance(value, (str, bytes)) else str(value)
        return self.hash_key.pseudonym(data)

    def is_secret_key(self, key: str) -> bool:
        """Whether values under ``key`` are secrets (replaced by ``***REDACTED***``)."""
        return self._keys.classify(key) == SECRET

    def redact(self, value: Any) -> Any:
        """A redacted copy of ``value`` (str, dict, list, JSON string, scalar), same shape. Never
        raises; idempotent."""
        return self.redact_collect(value, None)

    def redact_text(self, text: str) -> str:
        """``text`` with every detected finding replaced by its placeholder (JSON text as structure)."""
        return self.redact_collect(text, None)  # type: ignore[no-any-return]

    def findings(self, value: Any) -> list[str]:
        """The kinds of sensitive content ``redact`` would remove from ``value``, sorted; never the
        content itself. ``findings(redact(x)) == []``."""
        found: dict[str, int] = collections.defaultdict(int)
        self.redact_collect(value, found)
        return sorted(found)

    def redact_collect(self, value: Any, found: dict[str, int] | None) -> Any:
        """``redact(value)``, adding one count per kind replaced to ``found`` (when given: a
        ``collections.Counter`` or ``defaultdict(int)``)."""
        counter = _DISCARD if found is None else found
        try:
            return self._value(value, counter, 0)
        except Exception as exc:  # noqa: BLE001 - fail closed, never into the caller
            internal_error("redacting a value", exc)
            counter["redaction_error"] += 1
            return REDACTED

    # --- values -----------------------------------------------------------------------------------
    def _value(self, value: Any, found: dict[str, int], depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._text(value, found, depth)
        if kind is dict:
            return self._dict(value, found, depth)
        if kind is list or kind is tuple:
            if depth >= MAX_DEPTH:
                found["max_depth"] += 1
                return REDACTED
            items = [self._value(item, found, depth + 1) for item in value]
            if kind is tuple:
                return (
                    value
                    if all(a is b for a, b in zip(items, value, strict=True))
                    else tuple(items)
                )
            return items
        if kind is int:
            return self._int(value, found)
        if value is None or kind is bool or kind is float:
            return value
        if isinstance(value, str):
            return self._text(str(value), found, depth)
        if isinstance(value, Mapping):
            return self._dict(dict(value), found, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._value(list(value), found, depth)
        if isinstance(value, int) and not isinstance(value, bool):
            return self._int(int(value), found)
        from opentelemetry_instrumentation_toolaudit._jsonable import (
            to_jsonable,
        )

        return self._value(to_jsonable(value), found, depth + 1)

    def _int(self, value: int, found: dict[str, int]) -> Any:
        # A card number passed as an int ({"card": 4111111111111111}) is still a card number.
        if (
            10**12 <= abs(value) < 10**19
            and "credit_card" not in self._disabled
            and _checks.card_ok(str(abs(value)))
        ):
            found["credit_card"] += 1
            return "<CREDIT_CARD>"
        return value

    def _dict(self, value: dict[Any, Any], found: dict[str, int], depth: int) -> Any:
        if depth >= MAX_DEPTH:
            found["max_depth"] += 1
            return REDACTED
        keys = self._key_cache
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if type(key) is str:
                entry = keys.get(key)
                if entry is None:
                    entry = self._key_entry(key)
                rule, new_key, kinds = entry
            else:
                rule, new_key, kinds = PLAIN, key, ()
            if rule == PLAIN:
                for kind in kinds:
                    found[kind] += 1
                out[new_key] = self._value(item, found, depth + 1)
            elif rule == SECRET:
                if item is None or type(item) is bool or item == REDACTED:
                    out[key] = item
                else:
                    found[SECRET_KEY_KIND] += 1
                    out[key] = REDACTED
            elif rule == PSEUDONYM:
                out[key] = self._pseudonymize_value(item, normalize_key(key), found, depth)
            else:
                out[key] = self._address(item, found, depth)
        return out

    def _key_entry(self, key: str) -> tuple[int, str, tuple[str, ...]]:
        """How a dict key is handled: its rule, and (plain keys being text too, so that
        ``{"jane@example.com": ...}`` leaks nothing) its redacted form and the kinds found in it."""
        rule = self._keys.classify(key)
        kinds: list[str] = []
        new_key = self._text_uncached(key, kinds, MAX_DEPTH) if rule == PLAIN else key
        entry = (rule, new_key, tuple(kinds))
        if len(self._key_cache) >= _KEY_CACHE_MAX:
            self._key_cache.clear()
        self._key_cache[key] = entry
        return entry

    def _pseudonymize_value(
        self, value: Any, norm_key: str, found: dict[str, int], depth: int
    ) -> Any:
        if value is None or type(value) is bool:
            return value
        if isinstance(value, str):
            if not value or _is_ours(value):
                return value
            found[PII_KEY_KIND] += 1
            return self.pseudonym(normalize_for(_key_value_kind(norm_key), value))
        if isinstance(value, (int, float)):
            found[PII_KEY_KIND] += 1
            return self.pseudonym(str(value))
        if depth >= MAX_DEPTH:
            found["max_depth"] += 1
            return REDACTED
        if isinstance(value, Mapping):
            return {
                k: self._pseudonymize_value(v, norm_key, found, depth + 1) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            items = [self._pseudonymize_value(v, norm_key, found, depth + 1) for v in value]
            return items if isinstance(value, list) else tuple(items)
        found[PII_KEY_KIND] += 1
        return REDACTED

    def _address(self, value: Any, found: dict[str, int], depth: int) -> Any:
        """An address that attributes a call follows ``attribution_addresses``; anything else under
        such a key (a hostname, or personal data put there by mistake) is redacted as usual."""
        if not isinstance(value, str):
            return self._value(value, found, depth + 1)
        text = value.strip()
        if not (_checks.ipv4_ok(text) or (":" in text and _checks.ipv6_ok(text))):
            return self._text(value, found, depth + 1)
        mode = self.attribution_addresses
        if mode == "keep":
            return value
        found[NETWORK_ADDRESS_KIND] += 1
        return (
            self.pseudonym(normalize_for("ip_address", text))
            if mode == "pseudonymize"
            else REDACTED
        )

    # --- text -------------------------------------------------------------------------------------
    def _text(self, text: str, found: dict[str, int], depth: int) -> str:
        n = len(text)
        if self._builtin_only and (
            n < _SHORTEST_FINDING or (text.isalpha() and not text.startswith(_ALPHA_RISKY))
        ):
            return text
        cache = self._text_cache
        if n <= _TEXT_CACHE_LEN:
            hit = cache.get(text)
            if hit is not None:
                if not hit[1]:
                    return text  # unchanged: the caller's own object, so it can test `is`
                for kind in hit[1]:
                    found[kind] += 1
                return hit[0]
        kinds: list[str] = []
        result = self._text_uncached(text, kinds, depth)
        for kind in kinds:
            found[kind] += 1
        if n <= _TEXT_CACHE_LEN and self._cache_size:
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[text] = (result, tuple(kinds))
        return result

    def _text_uncached(self, text: str, kinds: list[str], depth: int) -> str:
        head = text.lstrip()[:1]
        if (head == "{" or head == "[") and depth < MAX_DEPTH and text.rstrip()[-1:] in "}]":
            parsed: Any = None
            with contextlib.suppress(ValueError, RecursionError):
                parsed = json.loads(text)
            if isinstance(parsed, (dict, list)):
                found: dict[str, int] = collections.defaultdict(int)
                redacted = self._value(parsed, found, depth + 1)
                if not found:
                    return text
                for kind, count in found.items():
                    kinds.extend([kind] * count)
                return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))
        scan = self._scanner.scan
        findings = scan(text)
        if not findings:
            return text
        kinds.extend(f.kind for f in findings)
        for _ in range(MAX_PASSES):
            isolated = self._builtin_only and findings_isolated(text, findings)
            text, skeleton = self._apply(text, findings)
            # Replacing a finding changes what its neighbours see, which can (rarely) complete a new
            # one: rescan until none remain, unless every finding stood apart from its neighbours
            # (no built-in pattern looks further than two characters past its match). The skeleton
            # has bare <KIND> placeholders (no pseudonym digits to trip the numeric pre-checks)
            # and the same text around them.
            if isolated or not scan(skeleton):
                return text
            findings = scan(text)
            if not findings:
                return text
        kinds.append("unredactable_text")
        return WHOLE_STRING

    def _apply(self, text: str, findings: list[Finding]) -> tuple[str, str]:
        """``text`` with placeholders for ``findings``, and the same with bare ``<KIND>`` ones."""
        parts: list[str] = []
        bare: list[str] = []
        position = 0
        for finding in findings:
            before = text[position : finding.start]
            label = placeholder_label(finding.kind)
            parts.append(before)
            bare.append(before)
            if finding.kind in self._pseudonymize:
                matched = text[finding.start : finding.end]
                parts.append(f"<{label}:{self.pseudonym(normalize_for(finding.kind, matched))}>")
            else:
                parts.append(f"<{label}>")
            bare.append(f"<{label}>")
            position = finding.end
        parts.append(text[position:])
        bare.append(text[position:])
        return "".join(parts), "".join(bare)


class _Discard(collections.Counter):  # type: ignore[type-arg]
    """A counter that keeps nothing: ``redact()`` does not need the kinds it found."""

    def __setitem__(self, key: str, value: int) -> None:
        pass


_DISCARD = _Discard()


def _detector_rules(detector: Detector) -> object:
    """What decides a detector's findings: a pattern detector's settings (each policy builds its
    own copies of the built-in ones), or for any other callable, the detector itself."""
    if isinstance(detector, PatternDetector):
        return (
            type(detector),
            # The compiled regexes follow from pattern and lowercase.
            *(
                _function_rules(getattr(detector, name, None))
                for name in PatternDetector.__slots__
                if "regex" not in name
            ),
        )
    return detector


def _function_rules(value: Any) -> Any:
    """A validator made by a factory as what it does (its code and captured values), so that two
    policies' copies of a built-in detector compare equal; any other value as itself."""
    code = getattr(value, "__code__", None)
    if code is None:
        return value
    cells = tuple(_function_rules(cell.cell_contents) for cell in value.__closure__ or ())
    return (code, value.__defaults__, cells)


def _is_ours(text: str) -> bool:
    return text == REDACTED or bool(PSEUDONYM_RE.fullmatch(text) or PROTECTED.fullmatch(text))


_warned_ephemeral = False


def _warn_ephemeral() -> None:
    global _warned_ephemeral
    if not _warned_ephemeral:
        _warned_ephemeral = True
        logger.warning(
            "toolaudit: a RedactionPolicy without a hash key uses an ephemeral per-process key: "
            "its pseudonyms will not match across processes or restarts "
            "(use RedactionPolicy.from_env(), or set OTEL_PYTHON_TOOLAUDIT_HASH_KEY[_FILE])"
        )
