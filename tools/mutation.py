# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Mutation testing of one core module against its own tests, with mutmut 3 (not run in CI).

Run from the repository root, one module at a time (the ``mutation`` extra installs mutmut)::

    pip install -e '.[dev,all,mutation]'
    python tools/mutation.py merkle                      # every mutant of ledger/_merkle.py
    python tools/mutation.py verify --sample 120         # 120 mutants drawn with a fixed seed
    python tools/mutation.py --list                      # the modules and the tests each one uses

mutmut copies the package and ``tests/`` into ``mutants/`` (ignored by git), mutates the module's
functions there, and runs, for each mutant, the module's tests that reach the mutated function.
The script then prints the score: mutants detected (a test failed, or the mutant hung and timed
out) over mutants judged, where mutants listed in ``tools/equivalent_mutants.txt`` (mutations that
change no behaviour, each with its reason) are left out. Every surviving mutant is printed with its
fingerprint and diff: a new equivalent mutant is added to that file by its fingerprint.

The base configuration is ``[tool.mutmut]`` in ``pyproject.toml``; this script narrows it to one
module and its tests. See ``docs/mutation-testing.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import random
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "opentelemetry_instrumentation_toolaudit"
EQUIVALENT_FILE = ROOT / "tools" / "equivalent_mutants.txt"

_REDACTION_TESTS = [
    "tests/redaction/test_detectors.py",
    "tests/redaction/test_checks.py",
    "tests/redaction/test_policy.py",
    "tests/redaction/test_corpus.py",
    "tests/redaction/test_properties.py",
]

# Each module under test: its source files and the tests that are its own (not the whole suite:
# the CLI and integration tests reach these modules too, but slowly and without aiming at them).
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "merkle": (["ledger/_merkle.py"], ["tests/audit/test_merkle.py"]),
    "checks": (["redaction/_checks.py"], _REDACTION_TESTS),
    "verify": (
        ["ledger/_verify.py", "ledger/_verify_scan.py", "ledger/_problems.py"],
        [
            # The PostgreSQL cases check the same verifier code at ten times the cost per mutant;
            # one of them runs the branch for sinks that check columns in their scan. The key
            # substitution trials run the CLI in subprocesses, which see no mutant.
            "-k",
            "(not postgres or test_untouched_trail_verifies) and not substituted_key",
            "tests/audit/test_verify_edges.py",
            "tests/audit/test_tamper.py",
            "tests/audit/test_parse_failures.py",
            "tests/audit/test_anchoring.py",
            "tests/audit/test_trust.py",
            "tests/faults/test_tamper_trials.py",
        ],
    ),
    "detectors": (["redaction/_detectors.py", "redaction/_builtin.py"], _REDACTION_TESTS),
    "canonical": (["ledger/_canonical.py"], ["tests/audit/test_canonical.py"]),
}

DETECTED = {"killed", "timeout", "segfault", "caught by type check"}


@dataclasses.dataclass(frozen=True)
class Equivalent:
    fingerprint: str
    reason: str


def load_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, Equivalent]:
    """``<fingerprint> <module> <function>: <reason>`` lines; ``#`` starts a comment line."""
    found: dict[str, Equivalent] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fingerprint, _, rest = line.partition(" ")
        found[fingerprint] = Equivalent(fingerprint, rest.strip())
    return found


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a mutant's diff, whitespace-normalised."""
    return [
        line[0] + " ".join(line[1:].split())
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def fingerprint(source_file: str, function: str, diff: str) -> str:
    """A mutant's identity that survives edits elsewhere in the file (mutmut's own numbering of a
    function's mutants changes whenever the function does): file, function and changed lines."""
    text = "\n".join([source_file, function, *changed_lines(diff)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def function_of(mutant_name: str) -> str:
    """``x_verify`` / ``xǁFrontierǁappend`` → ``verify`` / ``Frontier.append``."""
    mangled = mutant_name.partition("__mutmut_")[0].rpartition(".")[2]
    if "ǁ" in mangled:
        _, cls, method = mangled.split("ǁ", 2)
        return f"{cls}.{method}"
    return mangled.removeprefix("x_")


def _configure(sources: list[str], tests: list[str]) -> None:
    from mutmut import configuration

    base = configuration.config()
    configuration._config = dataclasses.replace(
        base,
        only_mutate=[f"{PACKAGE}/{s}" for s in sources],
        pytest_add_cli_args_test_selection=tests,
    )


def _mutant_names(sources: list[str]) -> list[str]:
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    names = []
    for source in sources:
        path = Path(PACKAGE) / source
        mutated = mutate_file_contents(str(path), path.read_text(encoding="utf-8"))
        names += [get_mutant_name(path, n) for n in mutated.mutant_names]
    return sorted(names)


def _drop_plain_copies(sources: list[str]) -> None:
    """Remove the copies in ``mutants/`` of ``sources`` that hold no mutants: mutmut copies every
    file it does not mutate in a run, and later takes a copy newer than its source for one it has
    already mutated."""
    for source in sources:
        copy = Path("mutants") / PACKAGE / source
        if copy.exists() and "__mutmut_" not in copy.read_text(encoding="utf-8"):
            copy.unlink()


def _forget_undetected(sources: list[str]) -> None:
    """Clear the cached result of every mutant not detected, so that it is tested again (against
    tests added since); detected mutants keep theirs until their function changes."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    for source in sources:
        data = SourceFileMutationData(path=Path(PACKAGE) / source)
        data.load()
        for name, code in data.exit_code_by_key.items():
            if code is not None and status_by_exit_code[code] not in DETECTED:
                data.exit_code_by_key[name] = None
        if data.exit_code_by_key:
            data.save()


def _results(sources: list[str]) -> dict[str, tuple[str, str]]:
    """Each mutant of ``sources`` that has a result: its status and its diff (made from the source
    as it is, so that a later run of another module, which puts back a plain copy, does not
    matter)."""
    import difflib

    import libcst
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import read_mutant_function, read_original_function
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.stats import status_by_exit_code

    out = {}
    for source in sources:
        path = Path(PACKAGE) / source
        mutated = mutate_file_contents(str(path), path.read_text(encoding="utf-8")).code
        module = libcst.parse_module(mutated)
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            if code is None:
                continue
            before, after = (
                libcst.Module([f]).code.strip().split("\n")
                for f in (read_original_function(module, name), read_mutant_function(module, name))
            )
            diff = "\n".join(difflib.unified_diff(before, after, str(path), str(path), lineterm=""))
            out[name] = (status_by_exit_code[code], diff)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?", choices=sorted(MODULES))
    parser.add_argument(
        "--sample", type=int, metavar="N", help="test N mutants drawn at random (fixed seed)"
    )
    parser.add_argument("--seed", type=int, default=16, help="the sample's seed (default 16)")
    parser.add_argument(
        "--max-children", type=int, default=1, help="mutants tested at once (default 1)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="forget every cached result (delete mutants/) first"
    )
    parser.add_argument(
        "--report", action="store_true", help="print the last run's results without running"
    )
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    args = parser.parse_args(argv)
    if args.list or args.module is None:
        for name, (sources, tests) in MODULES.items():
            print(f"{name}: {', '.join(sources)} <- {' '.join(tests)}")
        return 0 if args.list else 2

    os.chdir(ROOT)
    if args.fresh:
        shutil.rmtree("mutants", ignore_errors=True)
    sources, tests = MODULES[args.module]
    _configure(sources, tests)
    from mutmut.__main__ import _run

    everything = _mutant_names(sources)
    chosen = everything
    if args.sample is not None and args.sample < len(everything):
        chosen = sorted(random.Random(args.seed).sample(everything, args.sample))
    if not args.report:
        _drop_plain_copies(sources)
        # Which tests reach which function is recorded afresh: a record made for another module
        # (with the same tests) knows nothing of this one's functions.
        Path("mutants/mutmut-stats.json").unlink(missing_ok=True)
    if args.report:
        pass
    elif chosen is not everything:
        # Named mutants are all tested again; a full run reuses the results of detected ones.
        _run(chosen, args.max_children)
    else:
        _forget_undetected(sources)
        _run([], args.max_children)

    results = {n: r for n, r in _results(sources).items() if n in set(chosen)}
    equivalents = load_equivalents()
    detected = equivalent = 0
    survivors = []
    statuses: dict[str, int] = {}
    for name, (status, diff) in sorted(results.items()):
        statuses[status] = statuses.get(status, 0) + 1
        source = next(s for s in sources if name.startswith(_module_of(s) + "."))
        fp = fingerprint(source, function_of(name), diff)
        if status in DETECTED:
            detected += 1
        elif fp in equivalents:
            equivalent += 1
        else:
            survivors.append((name, fp, status, diff))
    for name, fp, status, diff in survivors:
        print(f"\n{status.upper()} {fp} {name}\n{diff}")
    judged = len(results) - equivalent
    score = 100.0 * detected / judged if judged else 100.0
    how = f"a sample of {len(chosen)} (seed {args.seed})" if chosen is not everything else "all"
    print(
        f"\n{args.module} ({', '.join(sources)}): {len(everything)} mutants, {how} tested;"
        f" {len(results)} with a result, {equivalent} equivalent left out;"
        f" {detected} of {judged} detected: mutation score {score:.1f}%"
    )
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    return 0


def _module_of(source: str) -> str:
    return re.sub(r"\.py$", "", f"{PACKAGE}/{source}").replace("/", ".")


if __name__ == "__main__":
    sys.exit(main())
