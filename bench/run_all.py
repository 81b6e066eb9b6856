# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Run every benchmark under ``bench/`` and write ``docs/performance.md`` (and its plots) from the run.

Each script measures its own baseline in the same run; this collects each figure beside that
baseline, and writes the page with the date, the machine (CPUs, CPU model, Python, OpenTelemetry
SDK) and the exact command, so that a page is never separated from where its figures came from.

Usage, from the repository root (``pip install -e '.[all,bench]'``)::

    python bench/run_all.py                # quick: fewer calls and rounds, a few minutes
    python bench/run_all.py --full         # each script's own defaults (much longer)
    python bench/run_all.py --note "..."   # a line about the conditions, printed on the page

A script that fails or is missing its dependencies is reported on the page, not hidden.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs"
IMAGES = DOCS / "img"


@dataclass
class Run:
    """One benchmark script's run: its command, output and whether it finished."""

    script: str
    args: list[str]
    stdout: str = ""
    error: str | None = None
    rows: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(["python", f"bench/{self.script}", *self.args])


QUICK: dict[str, list[str]] = {
    "overhead.py": ["--calls", "5000", "--repeat", "3"],
    "exporter.py": ["--calls", "1000"],
    "remembered.py": ["--calls", "5000", "--repeat", "3"],
    "integrations_genai_mcp.py": ["--calls", "1000", "--repeat", "3"],
    "sink.py": ["--records", "10000", "--proof-sizes", "10000", "100000"],
    "exporter_throughput.py": ["--spans", "10000"],
    "redaction.py": ["--rounds", "2", "--spans", "500"],
}

# "  audited call    46.96 µs/call    2.84x bare SDK span   2200 records in the sink"
_PER_CALL = re.compile(
    r"^\s+(?P<name>\S.*?)\s+(?P<value>[\d.]+) µs/call\s+(?P<ratio>[\d.]+)x (?P<base>[a-zA-Z ]+?)"
    r"(?:\s{2,}(?P<extra>\S.*))?$"
)
# "  genai AFC step: a bare span adds 27.34 µs, auditing adds 70.13 µs (2.56x the bare span's cost)"
_INTEGRATION = re.compile(
    r"^\s+(?P<path>.+?): a bare span adds (?P<span>[\d.]+) µs, auditing adds (?P<ours>[\d.]+) µs"
    r" \((?P<ratio>[\d.]+)x"
)
_UNTRACED = re.compile(r"^\s+(?P<path>.+?), untraced\s+(?P<value>[\d.]+)$")
# "sqlite (synchronous=FULL)   append   47,589 rec/s (1.15x seed)   verify   407,250 rec/s (2.37x seed)"
_SINK = re.compile(
    r"^(?P<label>\S.*?)\s+append\s+(?P<append>[\d,]+) rec/s(?: \((?P<appx>[\d.]+)x \w+\))?"
    r"\s+verify\s+(?P<verify>[\d,]+) rec/s(?: \((?P<verx>[\d.]+)x \w+\))?"
)
_PROOF = re.compile(
    r"^\s+(?P<size>[\d,]+) records: prove\s+(?P<prove>[\d.]+) ms, check\s+(?P<check>[\d.]+) ms,"
    r" path (?P<path>\d+) hashes"
)
_REDACTION = re.compile(
    r"^\s+(?P<name>toolaudit\+cache|toolaudit|presidio\S*)\s+(?:(?P<mbs>[\d.]+) MB/s)?\s*"
    r"(?P<items>[\d.]+) (?:items|spans)/s(?:\s+toolaudit is\s+(?P<faster>[\d.]+)x faster)?"
)


def run_script(run: Run, timeout: float) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)])}
    try:
        proc = subprocess.run(
            [sys.executable, str(BENCH / run.script), *run.args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        run.error = f"did not finish within {timeout:.0f} s"
        return
    run.stdout = proc.stdout
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        run.error = f"exit {proc.returncode}: {last}"


def per_call_rows(run: Run) -> list[tuple[str, ...]]:
    rows = []
    for line in run.stdout.splitlines():
        m = _PER_CALL.match(line)
        if m:
            extra = m["extra"] or ""
            rows.append((m["name"], f"{m['value']} µs", m["base"], f"{m['ratio']}x", extra))
    return rows


def integration_rows(run: Run) -> list[tuple[str, ...]]:
    untraced = {m["path"]: m["value"] for m in map(_UNTRACED.match, run.stdout.splitlines()) if m}
    rows = []
    for m in map(_INTEGRATION.match, run.stdout.splitlines()):
        if m:
            rows.append(
                (
                    m["path"],
                    f"{untraced.get(m['path'], '?')} µs",
                    f"+{m['span']} µs",
                    f"+{m['ours']} µs",
                    f"{m['ratio']}x",
                )
            )
    return rows


def sink_rows(run: Run) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    sinks, proofs = [], []
    for line in run.stdout.splitlines():
        m = _SINK.match(line)
        if m:
            label = m["label"]
            if m["appx"] is None:  # the baseline's own line
                label = "baseline: naive in-memory hash chain (nothing durable)"
            sinks.append(
                (
                    label,
                    f"{m['append']} rec/s",
                    f"{m['appx']}x" if m["appx"] else "1.00x",
                    f"{m['verify']} rec/s",
                    f"{m['verx']}x" if m["verx"] else "1.00x",
                )
            )
        p = _PROOF.match(line)
        if p:
            proofs.append((p["size"], f"{p['prove']} ms", f"{p['check']} ms", p["path"]))
    return sinks, proofs


def redaction_rows(run: Run) -> list[tuple[str, ...]]:
    rows, workload = [], ""
    for line in run.stdout.splitlines():
        if line.endswith(":") and not line.startswith(" ") and "recall" not in line:
            workload = line[:-1]
            continue
        m = _REDACTION.match(line)
        if m and workload:
            speed = f"{m['mbs']} MB/s" if m["mbs"] else f"{float(m['items']):,.0f} spans/s"
            versus = f"toolaudit {m['faster']}x faster" if m["faster"] else ""
            rows.append((workload, m["name"], speed, versus))
    return rows


def recall_block(run: Run) -> str:
    lines = run.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("recall per kind"):
            table = [row.split() for row in lines[i + 1 :] if row.strip()]
            header, body = table[0], table[1:]
            out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for row in body:
                name = " ".join(row[: len(row) - len(header) + 1])
                out.append("| " + " | ".join([name, *row[len(row) - len(header) + 1 :]]) + " |")
            return "\n".join(out)
    return ""


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    if not rows:
        return "(no figures: see above)"
    # A column no row fills (the exporter's record counts, in the other tables) is left out.
    keep = [i for i in range(len(header)) if any(i < len(r) and r[i] for r in rows)]
    header = tuple(header[i] for i in keep)
    rows = [tuple(r[i] for i in keep) for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    sdk = importlib.metadata.version("opentelemetry-sdk")
    return (
        f"{os.cpu_count()} CPUs (`nproc`), {model}; Python {platform.python_version()} "
        f"({platform.python_implementation()}), OpenTelemetry SDK {sdk}, {platform.system()}"
    )


def plot_per_call(runs: dict[str, Run]) -> str | None:
    """A bar chart of the per-call costs on the app's thread; the image's name, or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from matplotlib.ticker import NullFormatter

    bars: list[tuple[str, float, str]] = []
    for script, color in (("overhead.py", "#4c72b0"), ("exporter.py", "#dd8452")):
        for line in runs[script].stdout.splitlines():
            m = _PER_CALL.match(line)
            if m and m["name"] != "bare call":  # a plain function call: off the scale
                bars.append((m["name"], float(m["value"]), color))
    if not bars:
        return None
    bars.reverse()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(bars) + 1.2))
    ys = range(len(bars))
    ax.barh(list(ys), [b[1] for b in bars], color=[b[2] for b in bars])
    ax.set_yticks(list(ys), [b[0] for b in bars])
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("µs per tool call on the app's thread (log scale)")
    for y, (_, value, _) in zip(ys, bars, strict=True):
        ax.text(value, y, f" {value:.1f}", va="center", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in ("#4c72b0", "#dd8452")]
    ax.legend(handles, ["bench/overhead.py", "bench/exporter.py"], loc="upper right")
    ax.set_xlim(right=max(b[1] for b in bars) * 4)  # room for the last value's label
    fig.tight_layout()
    IMAGES.mkdir(exist_ok=True)
    fig.savefig(IMAGES / "per-call.png", dpi=110)
    plt.close(fig)
    return "img/per-call.png"


def plot_sinks(rows: list[tuple[str, ...]]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not rows:
        return None
    labels = ["naive chain" if r[0].startswith("baseline") else r[0].split()[0] for r in rows]
    append = [float(r[1].split()[0].replace(",", "")) for r in rows]
    verify = [float(r[3].split()[0].replace(",", "")) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], append, width=0.4, label="append (durable)", color="#4c72b0")
    ax.bar([x + 0.2 for x in xs], verify, width=0.4, label="verify", color="#dd8452")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("records per second")
    ax.legend()
    fig.tight_layout()
    IMAGES.mkdir(exist_ok=True)
    fig.savefig(IMAGES / "sinks.png", dpi=110)
    plt.close(fig)
    return "img/sinks.png"


GROWTH_HEADING = "### As the trail grows (SQLite)"
"""A section measured by ``bench/sink_growth.py`` (10^6 records: too long for this run), written
into the page by hand with its own command; a new run of this script keeps it as it is."""


def kept_section(heading: str) -> str:
    """The section of the current page under ``heading``, up to the next heading of level 2."""
    try:
        text = (DOCS / "performance.md").read_text(encoding="utf-8")
    except OSError:
        return ""
    start = text.find(heading)
    if start < 0:
        return ""
    end = text.find("\n## ", start)
    return text[start : end if end >= 0 else len(text)].strip()


def page(runs: dict[str, Run], command: str, note: str | None) -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    out = [
        "<!-- Generated by bench/run_all.py: run it again rather than editing this page. -->",
        "",
        "# Performance",
        "",
        f"Measured on {now:%Y-%m-%d %H:%M} UTC, on {machine()}, with:",
        "",
        f"```bash\n{command}\n```",
        "",
        "Every figure below was measured in that one run, each beside the baseline its script"
        " measured in the same run, so the ratios hold better than the absolute figures from one"
        " machine to another. Rerun the command to measure yours; each script also runs alone"
        " (`python bench/<script> --help`), with larger defaults than the quick run.",
    ]
    if note:
        out += ["", f"!!! note\n    {note}"]
    failed = [r for r in runs.values() if r.error]
    if failed:
        out += ["", "Not measured in this run:", ""]
        out += [f"* `{r.command}`: {r.error}" for r in failed]

    overhead, exporter, remembered = (
        runs["overhead.py"],
        runs["exporter.py"],
        runs["remembered.py"],
    )
    image = plot_per_call(runs)
    out += [
        "",
        "## A tool call on the app's thread",
        "",
        f"`{overhead.command}`: an audited call beside a bare SDK span on the same provider"
        " (`BatchSpanProcessor`, discarding exporter). `same attrs span` is a plain span given the"
        " very attributes an audited call records: what the SDK alone charges to store them.",
        "",
        table(("case", "per call", "baseline", "ratio", ""), per_call_rows(overhead)),
        "",
        f"`{exporter.command}`: with the audit exporter writing to a SQLite trail behind a"
        " `BatchSpanProcessor`, as `opentelemetry-instrument` sets it up. The exporter writes on the"
        " processor's thread; a fail-closed tool waits for one durable commit of its intent record"
        " on the app's thread, by design. The record counts show every call reached the sink.",
        "",
        table(("case", "per call", "baseline", "ratio", "records"), per_call_rows(exporter)),
    ]
    if image:
        out += ["", f"![Per-call cost of each case, log scale]({image})"]
    out += [
        "",
        "## Framework integrations",
        "",
        f"`{remembered.command}`: remembering a model's tool call as the openai and anthropic"
        " integrations do, and tying the app's audited dispatch to it (call id, model, response id,"
        " a span link), beside the audited call alone. No HTTP.",
        "",
        table(("case", "per call", "baseline", "ratio", ""), per_call_rows(remembered)),
    ]
    integrations = runs["integrations_genai_mcp.py"]
    out += [
        "",
        f"`{integrations.command}`: one tool call through google-genai's automatic function"
        " calling and through an MCP server's tool manager, untraced, with a bare span around the"
        " tool, and audited.",
        "",
        table(
            ("path", "untraced", "a bare span adds", "auditing adds", "ratio"),
            integration_rows(integrations),
        ),
    ]
    sink = runs["sink.py"]
    sinks, proofs = sink_rows(sink)
    image = plot_sinks(sinks)
    out += [
        "",
        "## The audit trail",
        "",
        f"`{sink.command}`: durable appends in batches of 512 (the `BatchSpanProcessor` default)"
        " and a full `verify` on each sink, beside a naive in-memory hash chain (a list of dicts,"
        " each hashed with its predecessor: nothing durable, no Merkle tree, no signatures).",
        "",
        table(("sink", "append", "vs naive", "verify", "vs naive"), sinks),
    ]
    if image:
        out += ["", f"![Append and verify rates per sink]({image})"]
    out += [
        "",
        "Inclusion proofs on SQLite trails of growing size (median of 200 random records):",
        "",
        table(("records", "prove", "check", "path"), proofs),
    ]
    growth = kept_section(GROWTH_HEADING)
    if growth:
        out += ["", growth]
    throughput = runs["exporter_throughput.py"]
    out += [
        "",
        "## The audit exporter end to end",
        "",
        f"`{throughput.command}`: finished spans made by the instrumented package handed to"
        " `AuditLogExporter.export()` in batches of 512, then `force_flush()` and `shutdown()`,"
        " default settings, beside the same naive in-memory chain; then the cost per record of"
        " each stage, from a second pass with the stages timed:",
        "",
        f"```text\n{throughput.stdout.strip() or throughput.error or 'no output'}\n```",
    ]
    redaction = runs["redaction.py"]
    out += [
        "",
        "## Redaction",
        "",
        f"`{redaction.command}`: the package's redaction policy beside Presidio's regex"
        " recognizers and beside those plus its phone recognizer, on the labeled corpus of"
        " `tests/redaction/corpus/`: lines one at a time, the same lines as ~4 KB documents, and"
        " `execute_tool`-like spans of 17 attributes.",
        "",
        table(("workload", "redactor", "speed", "vs toolaudit"), redaction_rows(redaction)),
        "",
        "Recall per kind (a line counts when none of its labeled values survives) and the share of"
        " near-miss negatives changed:",
        "",
        recall_block(redaction),
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="each script's own defaults")
    parser.add_argument("--note", help="a line about the conditions of this run, for the page")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per script")
    parser.add_argument("--out", type=Path, default=DOCS / "performance.md")
    args = parser.parse_args(argv)
    runs = {script: Run(script, [] if args.full else quick) for script, quick in QUICK.items()}
    for run in runs.values():
        print(f"running {run.command}", file=sys.stderr, flush=True)
        run_script(run, args.timeout)
        if run.error:
            print(f"  {run.error}", file=sys.stderr)
    command = shlex.join(
        ["python", "bench/run_all.py", *(argv if argv is not None else sys.argv[1:])]
    )
    args.out.write_text(page(runs, command, args.note), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(run.error for run in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
