# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Optional Presidio adapter: NER-based detection of person names (and other entities), off by default.

Regexes cannot find "Jane Doe"; a named-entity model can, at a cost of milliseconds per string. Install
the ``presidio`` extra and a spaCy model, then either set ``OTEL_PYTHON_TOOLAUDIT_PRESIDIO=true`` or::

    policy = RedactionPolicy.from_env(extra_detectors=[PresidioDetector()])

Nothing is downloaded at run time: a missing model is reported and the detector is left out.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._env import read_str
from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_PRESIDIO_MODEL,
)
from opentelemetry_instrumentation_toolaudit.redaction._detectors import Finding

DEFAULT_MODEL = "en_core_web_lg"


class PresidioDetector:
    """A detector backed by a Presidio ``AnalyzerEngine`` (its NER and recognizers).

    ``analyzer`` is a ready ``AnalyzerEngine``; without one, a default engine is built on first use
    with ``model`` (a spaCy model that must already be installed). Findings are named after the
    entity, lower-cased (``PERSON`` → ``person``). Strings with no capital letter are skipped: the
    English models find names by them, and most telemetry strings have none.
    """

    def __init__(
        self,
        analyzer: Any = None,
        *,
        entities: Sequence[str] = ("PERSON",),
        score_threshold: float = 0.5,
        language: str = "en",
        model: str = DEFAULT_MODEL,
    ) -> None:
        self._analyzer = analyzer
        self._lock = threading.Lock()
        self.entities = list(entities)
        self.score_threshold = score_threshold
        self.language = language
        self.model = model

    def analyzer(self) -> Any:
        """The Presidio ``AnalyzerEngine``, built on first use."""
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    self._analyzer = build_analyzer(self.model, self.language)
        return self._analyzer

    def __call__(self, text: str) -> list[Finding]:
        if len(text) < 3 or not any(ch.isupper() for ch in text):
            return []
        results = self.analyzer().analyze(
            text=text,
            entities=self.entities,
            language=self.language,
            score_threshold=self.score_threshold,
        )
        return [Finding(r.entity_type.lower(), r.start, r.end) for r in results]

    def __repr__(self) -> str:
        return f"PresidioDetector(entities={self.entities!r})"


def build_analyzer(model: str, language: str = "en") -> Any:
    """A Presidio ``AnalyzerEngine`` on the installed spaCy ``model``; raises if it is not installed."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    if not spacy.util.is_package(model):
        # Presidio would try to download it; this process may have no network, and must not try.
        raise LookupError(f"spaCy model {model!r} is not installed")
    engine: Any = SpacyNlpEngine(models=[{"lang_code": language, "model_name": model}])
    engine.nlp = {language: spacy.load(model)}
    return AnalyzerEngine(nlp_engine=engine, supported_languages=[language])


def presidio_from_env() -> PresidioDetector | None:
    """The detector ``OTEL_PYTHON_TOOLAUDIT_PRESIDIO=true`` asks for, or None (logged) if unavailable."""
    model = read_str(OTEL_PYTHON_TOOLAUDIT_PRESIDIO_MODEL, DEFAULT_MODEL)
    try:
        detector = PresidioDetector(model=model)
        detector.analyzer()
    except Exception as exc:  # noqa: BLE001 - an optional detector must not stop the app
        logger.warning(
            "toolaudit: Presidio detector unavailable (%s: install the 'presidio' extra and the "
            "spaCy model %s); continuing without it",
            type(exc).__name__,
            model,
        )
        return None
    return detector
