# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Redaction speed and recall: our policy beside Presidio's regex recognizers, on the same corpus.

Measured in one run, in alternating rounds so that a machine slowing down slows both alike:

* ``texts``: every line of the labeled corpus (``tests/redaction/corpus``: positives and near-miss
  negatives), redacted one string at a time;
* ``4 KB docs``: the same lines joined into ~4 KB documents (prompt-sized text);
* ``spans``: ``execute_tool``-like spans (17 attributes, corpus text in the arguments and in one
  free-text attribute), each redacted into a copy as an exporter would receive it.

Contenders:

* ``toolaudit``: ``RedactionPolicy`` (built-in detectors, result cache off) and
  ``RedactingSpanProcessor.redact_span``; for spans also ``toolaudit+cache``, with the default cache
  of short results (repeated attribute values are then looked up, not scanned);
* ``presidio-regex``: Presidio's ``PatternRecognizer``s with no NLP engine (Email, CreditCard,
  UsSsn, Iban, Ip), each ``analyze``-d on the string, found spans replaced by ``<ENTITY>``;
* ``presidio+phone``: the same plus ``PhoneRecognizer`` (python-phonenumbers, not a regex), the only
  Presidio recognizer for phone numbers.

Recall per kind counts a corpus line as caught when none of its labeled values survives; the false
positive rate counts negative lines that came out changed.

Usage: ``python bench/redaction.py [--rounds N] [--spans N]``; needs ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from opentelemetry_instrumentation_toolaudit.redaction import (
    RedactingSpanProcessor,
    RedactionPolicy,
)
from opentelemetry_instrumentation_toolaudit.redaction._content import SAFE, attribute_rule

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "redaction" / "corpus"


def load(name: str) -> list[dict[str, Any]]:
    with open(CORPUS / f"{name}.ndjson", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# --- Presidio -------------------------------------------------------------------------------------
def presidio_recognizers(with_phone: bool) -> list[Any]:
    import tldextract
    import tldextract.tldextract

    # Presidio's email check calls tldextract, which would fetch the public suffix list over the
    # network; the snapshot bundled with tldextract is used instead (no network here).
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    recognizers = [
        EmailRecognizer(),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
    ]
    if with_phone:
        recognizers.append(PhoneRecognizer())
    return recognizers


def presidio_redactor(recognizers: Sequence[Any]) -> Callable[[str], str]:
    """Analyze with each recognizer (score threshold 0: every result counts), replace the spans."""

    def redact(text: str) -> str:
        results = []
        for recognizer in recognizers:
            results.extend(recognizer.analyze(text, recognizer.supported_entities, None))
        if not results:
            return text
        spans = sorted(((r.start, r.end, r.entity_type) for r in results), reverse=True)
        out, last_start = text, len(text) + 1
        for start, end, entity in spans:
            if end > last_start:  # overlaps a span already replaced
                continue
            out = f"{out[:start]}<{entity}>{out[end:]}"
            last_start = start
        return out

    return redact


# --- spans ----------------------------------------------------------------------------------------
def make_spans(texts: Sequence[str], count: int) -> list[ReadableSpan]:
    spans = []
    for i in range(count):
        note, other = texts[i % len(texts)], texts[(i * 7 + 3) % len(texts)]
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "update_order_status",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": "Change an order's status.",
            "gen_ai.conversation.id": f"conv_{i:06d}",
            "gen_ai.request.model": "gpt-4.1",
            "user.id": f"usr_{i % 977:05d}",
            "user.roles": ("support_agent",),
            "client.address": "10.0.1.5",
            "user_agent.original": "SupportDashboard/2.1",
            "toolaudit.turn_number": 7,
            "toolaudit.trigger": "user_request",
            "toolaudit.purpose": "treatment",
            "toolaudit.attribution": f"User usr_{i % 977:05d} (support_agent) → gpt-4.1 → update_order_status [user_request]",
            "gen_ai.tool.call.arguments": json.dumps(
                {"order_id": f"ORD-{i:05d}", "status": "shipped", "note": note}
            ),
            "toolaudit.result.summary": json.dumps({"success": True, "order_id": f"ORD-{i:05d}"}),
            "app.customer_message": other,
        }
        context = SpanContext(i + 1, i + 1, is_remote=False, trace_flags=TraceFlags(1))
        spans.append(
            ReadableSpan(
                name="execute_tool update_order_status",
                context=context,
                attributes=attributes,
                kind=SpanKind.INTERNAL,
                start_time=1,
                end_time=2,
            )
        )
    return spans


def presidio_span_redactor(redact: Callable[[str], str]) -> Callable[[ReadableSpan], ReadableSpan]:
    """Presidio as a span processor would use it: every non-structural string attribute, copied."""

    def redact_span(span: ReadableSpan) -> ReadableSpan:
        attributes = dict(span.attributes or {})
        changed = False
        for name, value in attributes.items():
            if isinstance(value, str) and attribute_rule(name) != SAFE:
                new = redact(value)
                if new != value:
                    attributes[name] = new
                    changed = True
        if not changed:
            return span
        return ReadableSpan(
            name=span.name,
            context=span.context,
            attributes=attributes,
            kind=span.kind,
            start_time=span.start_time,
            end_time=span.end_time,
        )

    return redact_span


# --- measuring ------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def recall(redact: Callable[[str], str]) -> tuple[dict[str, float], float]:
    caught: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    for row in load("positives"):
        out = redact(row["text"])
        total[row["kind"]] += 1
        caught[row["kind"]] += all(value not in out for value in row["values"])
    negatives = load("negatives")
    changed = sum(redact(row["text"]) != row["text"] for row in negatives)
    return {kind: caught[kind] / total[kind] for kind in total}, changed / len(negatives)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spans", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    texts = [row["text"] for name in ("positives", "negatives") for row in load(name)]
    docs, current = [], ""
    for text in texts:
        current += text + "\n"
        if len(current) >= 4096:
            docs.append(current)
            current = ""
    spans = make_spans(texts, args.spans)

    policy = RedactionPolicy(hash_key=b"bench-key-0123456789abcdef", cache_size=0)
    processor = RedactingSpanProcessor(policy=policy)
    cached = RedactingSpanProcessor(policy=RedactionPolicy(hash_key=b"bench-key-0123456789abcdef"))
    contenders: dict[str, tuple[Callable[[str], Any], Callable[[ReadableSpan], Any]]] = {
        "toolaudit": (policy.redact_text, processor.redact_span)
    }
    try:
        for name, phone in (("presidio-regex", False), ("presidio+phone", True)):
            redact = presidio_redactor(presidio_recognizers(phone))
            contenders[name] = (redact, presidio_span_redactor(redact))
    except ImportError:
        print("presidio-analyzer is not installed: pip install -e '.[bench]' (toolaudit only)\n")

    workloads: dict[str, tuple[int, int, Callable[[Callable[[str], Any], Any], None]]] = {
        "texts": (
            sum(len(t.encode()) for t in texts),
            len(texts),
            lambda redact, _: [redact(t) for t in texts],
        ),
        "4 KB docs": (
            sum(len(d.encode()) for d in docs),
            len(docs),
            lambda redact, _: [redact(d) for d in docs],
        ),
        "spans": (0, len(spans), lambda _, redact_span: [redact_span(s) for s in spans]),
    }
    times: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for round_ in range(args.rounds + 1):  # round 0 warms up
        for workload, (_, _, run) in workloads.items():
            for name, (redact, redact_span) in contenders.items():
                elapsed = timed(lambda run=run, r=redact, s=redact_span: run(r, s))
                if round_:
                    times[(workload, name)].append(elapsed)
        # Spans repeat values (user ids, models, descriptions): the default result cache, emptied
        # before each pass so that only repeats within the pass are looked up.
        cached.policy._text_cache.clear()
        elapsed = timed(lambda: [cached.redact_span(s) for s in spans])
        if round_:
            times[("spans", "toolaudit+cache")].append(elapsed)

    print(
        f"rounds={args.rounds} (median), texts={len(texts)}, docs={len(docs)}, spans={len(spans)}"
    )
    base = "toolaudit"
    for workload, (nbytes, items, _) in workloads.items():
        print(f"\n{workload}:")
        names = [*contenders, *(["toolaudit+cache"] if workload == "spans" else [])]
        for name in names:
            seconds = statistics.median(times[(workload, name)])
            line = f"  {name:<15}"
            if nbytes:
                line += f" {nbytes / seconds / 1e6:8.3f} MB/s"
            line += f" {items / seconds:10.0f} {'spans' if workload == 'spans' else 'items'}/s"
            if name.startswith("presidio"):
                line += f"   toolaudit is {seconds / statistics.median(times[(workload, base)]):5.1f}x faster"
            elif name != base:
                line += "   (result cache on, as by default)"
            print(line)

    print("\nrecall per kind (a line counts when none of its labeled values survives):")
    results = {name: recall(redact) for name, (redact, _) in contenders.items()}
    kinds = list(results[base][0])
    print(f"  {'kind':<18}" + "".join(f"{name:>16}" for name in results))
    for kind in kinds:
        print(f"  {kind:<18}" + "".join(f"{r[0][kind]:16.3f}" for r in results.values()))
    print(f"  {'negatives changed':<18}" + "".join(f"{r[1]:16.3f}" for r in results.values()))


if __name__ == "__main__":
    main()
