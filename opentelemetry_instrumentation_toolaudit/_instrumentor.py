# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The ``ToolAuditInstrumentor``: wires the tracer, the policy and the patched dispatch functions."""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from opentelemetry_instrumentation_toolaudit._env import read_bool, read_list, read_str
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher, resolve
from opentelemetry_instrumentation_toolaudit._stamping import install_stamping
from opentelemetry_instrumentation_toolaudit._state import SCHEMA_URL, SCOPE_NAME, STATE
from opentelemetry_instrumentation_toolaudit._targets import make_dispatch_wrapper, parse_targets
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS,
    OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS,
    OTEL_PYTHON_TOOLAUDIT_TOOLS,
)
from opentelemetry_instrumentation_toolaudit.integrations import all_integrations
from opentelemetry_instrumentation_toolaudit.integrations._remembered import REGISTRY
from opentelemetry_instrumentation_toolaudit.package import _instruments
from opentelemetry_instrumentation_toolaudit.redaction import (
    Installation,
    LogInstallation,
    install_log_redaction,
    install_redaction,
)
from opentelemetry_instrumentation_toolaudit.version import __version__


class ToolAuditInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Audits tool calls: ``@audited_tool`` functions, dispatch targets, and framework tool runners.

    ``instrument()`` accepts ``tracer_provider``, ``redaction_policy``, ``tools`` (a list of
    ``"module:qualname"`` targets, added to those in ``OTEL_PYTHON_TOOLAUDIT_TOOLS``),
    ``fail_closed_tools`` (tool names, added to ``OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS``),
    ``intent_sink`` (an :class:`~opentelemetry_instrumentation_toolaudit.export.IntentSink` that
    takes intent records; by default the ``AuditLogExporter`` behind the tracer provider) and
    ``redact_spans`` (default ``OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS``, true): put a
    ``RedactingSpanProcessor`` in front of every processor of the tracer provider, including those
    ``opentelemetry-instrument`` configured before any instrumentor ran and those added later, and a
    ``RedactingLogRecordProcessor`` first among the (SDK) logger provider's processors
    (``logger_provider`` or the global one).
    """

    def __init__(self) -> None:
        # BaseInstrumentor is a singleton and Python re-runs __init__ on every
        # ``ToolAuditInstrumentor()``: keep the live patcher, or uninstrument() could restore nothing.
        if hasattr(self, "_patcher"):
            return
        self._patcher = Patcher()
        # wrapt post-import hooks cannot be removed; each hook checks it belongs to the live generation.
        self._generation = 0
        self._lock = threading.Lock()
        self._redaction: Installation | None = None
        self._stamping: Callable[[], None] | None = None
        self._log_redaction: LogInstallation | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    @property
    def patcher(self) -> Patcher:
        """The patcher holding every function this instrumentor has wrapped."""
        return self._patcher

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            "opentelemetry_instrumentation_toolaudit",
            __version__,
            kwargs.get("tracer_provider"),
            schema_url=SCHEMA_URL,
        )
        STATE.configure(
            tracer,
            kwargs.get("redaction_policy"),
            kwargs.get("fail_closed_tools", ()),
            intent_sink=kwargs.get("intent_sink"),
            provider=kwargs.get("tracer_provider"),
        )
        self._install_redaction(kwargs)
        self._install_stamping(kwargs.get("tracer_provider") or trace.get_tracer_provider())
        with self._lock:
            self._generation += 1
            generation = self._generation
        spec = ",".join(
            filter(None, [read_str(OTEL_PYTHON_TOOLAUDIT_TOOLS), *kwargs.get("tools", ())])
        )
        for module_name, qualname in parse_targets(spec):
            self._when_imported(module_name, generation, self._target_patch(qualname))
        disabled = {n.lower() for n in read_list(OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS)}
        for integration in all_integrations():
            if integration.name in disabled:
                logger.debug("toolaudit: integration %s disabled", integration.name)
                continue
            self._when_imported(
                integration.module,
                generation,
                functools.partial(integration.patch, self._patcher),
                target=False,
            )

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            self._generation += 1
        self._patcher.restore_all()
        if self._stamping is not None:
            self._stamping()
            self._stamping = None
        if self._redaction is not None:
            self._redaction.remove()
            self._redaction = None
        if self._log_redaction is not None:
            self._log_redaction.remove()
            self._log_redaction = None
        REGISTRY.clear()
        STATE.reset()

    def _install_redaction(self, kwargs: dict[str, Any]) -> None:
        """Redact spans before every exporter: now if the provider exists, else once it is set."""
        redact = kwargs.get("redact_spans")
        if redact is None:
            redact = read_bool(OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS, True)
        if not redact:
            return
        try:
            logger_provider = kwargs.get("logger_provider") or get_logger_provider()
            self._log_redaction = install_log_redaction(logger_provider, STATE.policy)
        except Exception as exc:  # noqa: BLE001 - instrument() must not break the app
            internal_error("installing log redaction", exc)
        try:
            provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
            if isinstance(provider, trace.ProxyTracerProvider):
                # The app sets its provider after instrument(): install when it does.
                self._patcher.wrap(trace, "set_tracer_provider", self._on_set_tracer_provider)
                return
            self._redaction = install_redaction(
                provider, STATE.policy, source_redacted_scopes=frozenset({SCOPE_NAME})
            )
        except Exception as exc:  # noqa: BLE001 - instrument() must not break the app
            internal_error("installing span redaction", exc)

    def _install_stamping(self, provider: Any) -> None:
        """Attribution on other instrumentations' LLM spans (see ``_stamping``)."""
        try:
            if self._stamping is None and not isinstance(provider, trace.ProxyTracerProvider):
                self._stamping = install_stamping(provider)
        except Exception as exc:  # noqa: BLE001 - instrument() must not break the app
            internal_error("installing attribution stamping", exc)

    def _on_set_tracer_provider(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        self._install_stamping(trace.get_tracer_provider())
        try:
            provider = trace.get_tracer_provider()
            if self._redaction is None and not isinstance(provider, trace.ProxyTracerProvider):
                self._redaction = install_redaction(
                    provider, STATE.policy, source_redacted_scopes=frozenset({SCOPE_NAME})
                )
        except Exception as exc:  # noqa: BLE001 - the app's own call must succeed regardless
            internal_error("installing span redaction", exc)
        return result

    def _when_imported(
        self, module_name: str, generation: int, patch: Any, *, target: bool = True
    ) -> None:
        """Run ``patch(module)`` once ``module_name`` is imported (now, if it already is).

        ``target`` is False for a framework integration, whose library is optional: its absence is
        not worth a warning.
        """

        def hook(module: Any) -> None:
            if generation != self._generation:
                return
            try:
                patch(module)
            except Exception as exc:  # noqa: BLE001 - a bad target must not break the app's import
                internal_error(f"patching {module_name}", exc)

        if module_name in sys.modules:
            hook(sys.modules[module_name])
            return
        wrapt.register_post_import_hook(hook, module_name)
        if module_name == "__main__":
            return
        # A target module the app never imports gets no spans; say so when it cannot be found at all.
        if target and importlib.util.find_spec(module_name.split(".")[0]) is None:
            logger.warning("toolaudit: tool target module %s is not importable", module_name)

    def _target_patch(self, qualname: str) -> Any:
        def patch(module: Any) -> None:
            try:
                owner, attr = resolve(module, qualname)
            except AttributeError:
                logger.warning("toolaudit: %s has no %s; not patched", module.__name__, qualname)
                return
            fn = getattr(owner, attr)
            self._patcher.wrap(owner, attr, make_dispatch_wrapper(fn))

        return patch
