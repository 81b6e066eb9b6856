"""The ``toolaudit`` command line: the only code in this package that prints or exits."""

from __future__ import annotations

import argparse
import sys

from opentelemetry_instrumentation_toolaudit.version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; subcommands register themselves here."""
    parser = argparse.ArgumentParser(
        prog="toolaudit", description="Verify, query and report on a toolaudit audit trail."
    )
    parser.add_argument("--version", action="version", version=f"toolaudit {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 check failed, 2 usage or unreadable input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
