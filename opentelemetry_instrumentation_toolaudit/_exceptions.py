# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every exception this package raises, under one base class users can catch.

Our telemetry never raises into the application: these are raised only by APIs the user calls on
purpose (opening a sink, verifying a trail, canonicalizing a record), and by the one deliberate
exceptions to the rule, fail-closed tools (``AuditUnavailableError``) and tools whose declared
access rule refuses the call (``AccessDeniedError``).

The hierarchy::

    ToolAuditError
    ├── AccessDeniedError       a tool's access rule refused the call; the tool did not run
    ├── AuditUnavailableError   a fail-closed tool did not run: its intent record could not be written
    ├── CanonicalizationError   a value has no canonical (RFC 8785) JSON form   (also a ValueError)
    ├── SinkError               a sink cannot be opened, read or written
    └── VerificationError       a trail, proof or checkpoint failed verification

Messages name the sink, the record's sequence number or the setting involved, never a recorded value:
a message may end up in a log, and a log must not carry PII.
"""

from __future__ import annotations


class ToolAuditError(Exception):
    """Base class of every exception raised by this package."""


class AccessDeniedError(ToolAuditError, PermissionError):
    """A tool's declared access rule (``@audited_tool(allowed_roles=..., allowed_purposes=...)``)
    refused the call: the tool was not run. The refusal is recorded as the call's span. The message
    names the tool and the rule, never the user."""


class AuditUnavailableError(ToolAuditError):
    """A fail-closed tool was not run because its intent record could not be durably written."""


class CanonicalizationError(ToolAuditError, ValueError):
    """A value that has no canonical JSON form."""


class SinkError(ToolAuditError):
    """A sink cannot be opened, read or written. The message names the sink, never record values."""


class VerificationError(ToolAuditError):
    """An audit trail, an inclusion or consistency proof, or a checkpoint failed verification."""
