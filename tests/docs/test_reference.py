# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The reference pages match the code: CLI, environment variables, span attributes."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

from opentelemetry_instrumentation_toolaudit import attributes, cli, environment_variables

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def env_names() -> list[str]:
    return [name for name in vars(environment_variables) if name.startswith("OTEL_")]


def test_generated_pages_are_current():
    """docs/cli.md and docs/configuration.md are what docs/gen_reference.py generates now."""
    gen = generator()
    stale = [
        name
        for name, build in gen.PAGES.items()
        if (DOCS / name).read_text(encoding="utf-8") != build()
    ]
    assert stale == [], "run: python docs/gen_reference.py"


def test_every_environment_variable_is_in_the_configuration_table():
    """Each variable in environment_variables.py has a row, with a default, in docs/configuration.md."""
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(OTEL_\w+)` \| (.+?) \|", page, re.MULTILINE))
    assert sorted(rows) == sorted(env_names())
    assert [name for name, default in rows.items() if not default.strip()] == []


def test_every_environment_variable_has_a_docstring():
    """Each environment variable constant is followed by a docstring (the configuration table's text)."""
    documented = [name for name, _ in generator().environment_variables()]
    assert documented == env_names()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_cli_command_and_option_is_documented():
    """Every subcommand, argument and option of the toolaudit parser appears in docs/cli.md."""
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = ["--version"]
    for command, sub in subcommands().items():
        names.append(f"## `toolaudit {command}`")
        for action in sub._actions:
            if action.option_strings:
                names += [o for o in action.option_strings if o not in ("-h", "--help")]
            else:
                names.append(f"| `{action.metavar}` |")
    assert len(names) > 10
    assert [name for name in names if name not in page] == []


def test_cli_description_names_only_its_commands():
    """The CLI's description promises no command it lacks (no 'query' or 'report' subcommand)."""
    description = (cli.build_parser().description or "").lower()
    promised = {verb for verb in ("query", "report", "export", "search") if verb in description}
    assert promised - set(subcommands()) == set()


def test_every_attribute_is_in_the_span_reference():
    """Every name and value defined in attributes.py appears in docs/spans.md."""
    page = (DOCS / "spans.md").read_text(encoding="utf-8")
    values = [
        value
        for name, value in vars(attributes).items()
        if name.isupper() and isinstance(value, str)
    ]
    assert len(values) > 50
    assert [value for value in values if value not in page] == []
