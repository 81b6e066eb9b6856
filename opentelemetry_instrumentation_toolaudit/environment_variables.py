# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Names of the environment variables this package reads, defined once."""

from __future__ import annotations

from typing import Final

OTEL_PYTHON_TOOLAUDIT_TOOLS: Final = "OTEL_PYTHON_TOOLAUDIT_TOOLS"
"""Comma-separated ``module:qualname`` dispatch functions to wrap, e.g. ``myapp.tools:dispatch``."""

OTEL_PYTHON_TOOLAUDIT_BAGGAGE: Final = "OTEL_PYTHON_TOOLAUDIT_BAGGAGE"
"""W3C baggage for attribution: ``off`` (default), ``inject``, ``extract`` or ``both``."""

OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS: Final = "OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS"
"""Comma-separated framework integrations not to patch (``openai,mcp``...)."""

OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES: Final = "OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES"
"""Upper bound on the recorded JSON of a call's arguments (default 8192)."""

OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS"
"""Comma-separated keys of a tool's result dict kept in ``toolaudit.result.summary``; ``*`` patterns
allowed. Default ``id,*_id,status,count`` (what was acted on, its status, a count)."""

OTEL_PYTHON_TOOLAUDIT_SUBJECT_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_SUBJECT_KEYS"
"""Comma-separated argument names that identify the person or account a tool call is about; the
first argument so named is recorded as the call's subject, as its keyed pseudonym (never the value).
Default ``patient_id,customer_id,account_id,subject_id,mrn``."""

OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS: Final = "OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS"
"""Comma-separated ``tool:action`` pairs declaring what a tool does to its subject's data, one of
``create``, ``read``, ``update``, ``delete``, ``execute`` (``@audited_tool(action=...)`` wins).
Default: none."""

# --- attribution without code -------------------------------------------------------------------
OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY: Final = "OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY"
"""The key of a model request's ``metadata`` that names the user (default ``user_id``, as anthropic's
``metadata.user_id``); the openai ``user`` and ``safety_identifier`` fields are read after it."""

OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY: Final = (
    "OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY"
)
"""The key of a model request's ``metadata`` that names the conversation (default ``conversation_id``)."""

OTEL_PYTHON_TOOLAUDIT_USER_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_USER_HEADER"
"""An incoming HTTP request header naming the authenticated user (e.g. ``x-authenticated-user``), set
by a gateway in front of the app; trusted as is. Unset (default): no user is read from requests."""

OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER"
"""An incoming HTTP request header with the user's comma-separated roles (default: none read)."""

OTEL_PYTHON_TOOLAUDIT_CONVERSATION_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_CONVERSATION_HEADER"
"""An incoming HTTP request header naming the conversation (default: none read)."""

OTEL_PYTHON_TOOLAUDIT_SESSION_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_SESSION_HEADER"
"""An incoming HTTP request header naming the session (default: none read)."""

OTEL_PYTHON_TOOLAUDIT_PURPOSE_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_PURPOSE_HEADER"
"""An incoming HTTP request header stating the purpose of the request (default: none read)."""

OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER: Final = "OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER"
"""An incoming HTTP request header whose value, the stated reason, invokes break-the-glass
emergency access for the request (purpose ``ETREAT``); default: none read."""

OTEL_PYTHON_TOOLAUDIT_DJANGO_USER: Final = "OTEL_PYTHON_TOOLAUDIT_DJANGO_USER"
"""``true`` to attribute each Django request to ``request.user`` (its username) when authenticated;
default ``false`` (reading it may cost a session and database look-up per request)."""

OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES: Final = "OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES"
"""Comma-separated audit event types the audit exporter records (default: all of them)."""

OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE: Final = "OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE"
"""Records the audit exporter keeps for retry while the sink is down (default 10000)."""

OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS: Final = "OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS"
"""Comma-separated tools that run only after their intent record is durably written."""

OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS: Final = "OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS"
"""``off`` (default) or ``all``: queue a ``tool.intent`` record when every tool starts."""
OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE: Final = "OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE"
"""A TOML file of retention categories (``[retention.<category>]`` with ``retention_days`` and
``tools``, a list of tool names or ``"*"``) that set each record's ``retain_until``. Default: financial
2555 days, healthcare 2190, every other tool 365; the longest applicable period wins. Its
``[alerts]`` table sets the alert thresholds (see docs/alerts.md)."""
# --- the audit trail -----------------------------------------------------------------------------

OTEL_PYTHON_TOOLAUDIT_SINK: Final = "OTEL_PYTHON_TOOLAUDIT_SINK"
"""Audit sink URL: ``sqlite:///toolaudit.db`` (default), ``jsonl:///audit.jsonl``, ``postgresql://…``."""

OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE: Final = "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE"
"""Ed25519 checkpoint signing key (signed-note text); generated with mode 0600 when absent, its public
key written beside it as ``<file>.pub``. Default ``~/.config/toolaudit/signing.key``."""

OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR: Final = "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR"
"""A second place for signed checkpoints, written as new files only (never rewritten); ``toolaudit
verify`` checks the checkpoints there too unless ``--checkpoint-dir`` names another. Default: none."""

OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS"
"""A file of pinned verifier keys (one per line, ``#`` comments) that ``toolaudit verify`` trusts
when no ``--public-key`` is given; keep it where the writer cannot change it. Default: none (verify
then uses the writer's ``<signing key>.pub`` from this machine and calls the result self-attested)."""

OTEL_PYTHON_TOOLAUDIT_WITNESSES: Final = "OTEL_PYTHON_TOOLAUDIT_WITNESSES"
"""Comma-separated witnesses the writer sends each new checkpoint to, as ``URL=VKEY``: the witness's
base URL (``http://host:port``; requests go to ``<URL>/add-checkpoint``) and its verifier key
(``toolaudit witness`` prints it). Their cosignatures are stored with the checkpoint in the sink.
Default: none (checkpoints are not witnessed)."""

OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT: Final = "OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT"
"""Seconds one request to a witness may take (default 5). Requests run on a background thread;
closing the audit log waits at most twice this for the last checkpoint's cosignatures."""

OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE: Final = "OTEL_PYTHON_TOOLAUDIT_WITNESS_CA_FILE"
"""A PEM file of CA certificates that the writer trusts, besides the system's, for the
certificates of ``https://`` witnesses in ``OTEL_PYTHON_TOOLAUDIT_WITNESSES`` (a private CA, or a
witness's self-signed certificate). Default: unset (only the system's CA certificates)."""

OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY: Final = "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY"
"""Write a signed checkpoint after this many records (default 1000)."""

OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL: Final = "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL"
"""Also write a signed checkpoint this many seconds after new records arrive (default 60)."""

OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK: Final = "OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK"
"""``true`` to refuse to start (``SystemExit``) when the audit sink cannot be opened; ``false``
(default): start anyway, log the problem once and keep the records in the buffer for retry."""
OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS: Final = "OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS"
"""``true`` to also emit each committed audit record as an OpenTelemetry log record carrying its
span's trace and span id, ``toolaudit.seq`` and ``toolaudit.entry_hash``, through the global logger
provider. Default ``false``."""

OTEL_PYTHON_TOOLAUDIT_TRACE_URL: Final = "OTEL_PYTHON_TOOLAUDIT_TRACE_URL"
"""A URL template with ``{trace_id}`` (``http://localhost:16686/trace/{trace_id}`` for Jaeger) that
the ``toolaudit`` reading commands make every trace id into a link with. Default: none."""
# --- redaction ----------------------------------------------------------------------------------
OTEL_PYTHON_TOOLAUDIT_ALERTS: Final = "OTEL_PYTHON_TOOLAUDIT_ALERTS"
"""``true`` (default): the audit exporter and ``toolaudit serve`` evaluate the alert rules on the
records they commit, on a thread of their own; ``false`` to evaluate them only on demand
(``toolaudit alerts``)."""

OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS: Final = "OTEL_PYTHON_TOOLAUDIT_LOG_ACCESS"
"""``true``: the CLI's commands that read a trail record an ``audit.read`` event in it, as with
``--log-access``; default ``false``."""

OTEL_PYTHON_TOOLAUDIT_HASH_KEY: Final = "OTEL_PYTHON_TOOLAUDIT_HASH_KEY"
"""The secret key for keyed pseudonyms and content hashes (at least 16 characters)."""

OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE: Final = "OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE"
"""A file holding that key; created (0600) if missing. Default ``$XDG_DATA_HOME/toolaudit/hash.key``."""

OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID: Final = "OTEL_PYTHON_TOOLAUDIT_HASH_KEY_ID"
"""The key id written in every pseudonym (default: derived from the key)."""

OTEL_PYTHON_TOOLAUDIT_REDACT_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_REDACT_KEYS"
"""Comma-separated keys whose values are secrets, added to the defaults."""

OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS"
"""Comma-separated keys whose values become keyed pseudonyms, added to the defaults."""

OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE: Final = "OTEL_PYTHON_TOOLAUDIT_REDACTION_PROFILE"
"""``hipaa``, ``pci``, ``gdpr`` or ``default`` (the default), or several comma-separated: keys and
free-text detectors added for a regulation (see docs/redaction.md)."""

OTEL_PYTHON_TOOLAUDIT_KEEP_KEYS: Final = "OTEL_PYTHON_TOOLAUDIT_KEEP_KEYS"
"""Comma-separated keys removed from the default secret and pseudonym vocabularies."""

OTEL_PYTHON_TOOLAUDIT_REDACT_DISABLED_KINDS: Final = "OTEL_PYTHON_TOOLAUDIT_REDACT_DISABLED_KINDS"
"""Comma-separated free-text detector kinds to turn off (e.g. ``ip_address,phone``)."""

OTEL_PYTHON_TOOLAUDIT_ATTRIBUTION_ADDRESSES: Final = "OTEL_PYTHON_TOOLAUDIT_ATTRIBUTION_ADDRESSES"
"""``keep`` (default), ``pseudonymize`` or ``redact`` IP addresses in ``client.address`` and the like."""

OTEL_PYTHON_TOOLAUDIT_CONTENT: Final = "OTEL_PYTHON_TOOLAUDIT_CONTENT"
"""Prompts and responses: ``hash`` (default, keyed hash and size only) or ``redact`` (redacted text)."""

OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS: Final = "OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS"
"""``true`` (default): redact spans and log records before every exporter (``false`` to skip)."""

OTEL_PYTHON_TOOLAUDIT_PRESIDIO: Final = "OTEL_PYTHON_TOOLAUDIT_PRESIDIO"
"""``true`` to add the Presidio NER detector for person names (needs the ``presidio`` extra)."""

OTEL_PYTHON_TOOLAUDIT_PRESIDIO_MODEL: Final = "OTEL_PYTHON_TOOLAUDIT_PRESIDIO_MODEL"
"""The spaCy model Presidio loads (default ``en_core_web_lg``; it must be installed)."""
