# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The span *view*: what span → record reads, whichever way the span arrived.

An SDK ``ReadableSpan`` (in-process export) and a decoded OTLP protobuf span (a receiver) both
satisfy :class:`SpanView` through small adapters (``SdkSpanView`` in ``_sdk``, ``OtlpSpanView`` in
``_otlp``). This module imports no OpenTelemetry code. Ids are ints or bytes (OTLP carries bytes); times are Unix nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class SpanEventView(Protocol):
    """One span event: its name, time and attributes."""

    @property
    def name(self) -> str: ...

    @property
    def timestamp(self) -> int | None: ...

    @property
    def attributes(self) -> Mapping[str, Any] | None: ...


class SpanView(Protocol):
    """The parts of a finished (or started, for intent records) span that become a record."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> int:
        """The span kind as its OTLP number minus one (``INTERNAL`` is 0, as in the SDK enum)."""
        ...

    @property
    def trace_id(self) -> int | bytes | None: ...

    @property
    def span_id(self) -> int | bytes | None: ...

    @property
    def parent_span_id(self) -> int | bytes | None: ...

    @property
    def start_time(self) -> int | None: ...

    @property
    def end_time(self) -> int | None: ...

    @property
    def status_error(self) -> bool:
        """True when the span's status code is ``ERROR``."""
        ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def events(self) -> Sequence[SpanEventView]: ...

    @property
    def resource_attributes(self) -> Mapping[str, Any]: ...

    @property
    def scope_name(self) -> str | None: ...
