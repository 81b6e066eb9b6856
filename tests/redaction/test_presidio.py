# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The optional Presidio adapter: NER findings become placeholders like any other detector's.

Needs the ``presidio`` extra (presidio-analyzer and spaCy). No trained spaCy model can be downloaded
here, so the analyzer runs on a real spaCy pipeline whose entity ruler marks the names: Presidio's
own SpacyRecognizer turns those entities into PERSON results, exactly as with a trained model.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("presidio_analyzer")
spacy = pytest.importorskip("spacy")

from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import SpacyNlpEngine  # noqa: E402

from opentelemetry_instrumentation_toolaudit.redaction import (  # noqa: E402
    PresidioDetector,
    RedactionPolicy,
)
from opentelemetry_instrumentation_toolaudit.redaction._presidio import presidio_from_env  # noqa: E402


@pytest.fixture(scope="module")
def analyzer() -> AnalyzerEngine:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": [{"LOWER": "jane"}, {"LOWER": "doe"}]},
            {"label": "PERSON", "pattern": [{"LOWER": "wei"}, {"LOWER": "zhang"}]},
        ]
    )
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.nlp = {"en": nlp}
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def test_presidio_names_redacted_beside_builtin_kinds(analyzer):
    """Names Presidio finds become <PERSON> placeholders; regex kinds still work around them."""
    policy = RedactionPolicy(
        hash_key=b"presidio-test-key-0123456789", extra_detectors=[PresidioDetector(analyzer)]
    )
    text = "Patient Jane Doe (jane@example.com) was seen by Wei Zhang."
    assert policy.redact(text) == (
        f"Patient <PERSON> (<EMAIL:{policy.pseudonym('jane@example.com')}>) was seen by <PERSON>."
    )
    assert policy.findings(text) == ["email", "person"]
    assert policy.findings(policy.redact(text)) == []


def test_presidio_skips_strings_without_capitals(analyzer):
    """Lower-case strings never reach the NER model (the cheap pre-check)."""
    calls: list[str] = []

    class Counting:
        def analyze(self, text: str, **kwargs: object) -> list:
            calls.append(text)
            return analyzer.analyze(text=text, **kwargs)

    detector = PresidioDetector(Counting())
    assert (detector("order shipped today"), calls) == ([], [])
    assert [f.kind for f in detector("Jane Doe called")] == ["person"]


def test_missing_model_is_reported_not_downloaded(monkeypatch, caplog):
    """OTEL_PYTHON_TOOLAUDIT_PRESIDIO with a model that is not installed logs and carries on."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_PRESIDIO_MODEL", "en_core_web_does_not_exist")
    with caplog.at_level(logging.WARNING):
        assert presidio_from_env() is None
    assert any("Presidio detector unavailable" in r.getMessage() for r in caplog.records)
