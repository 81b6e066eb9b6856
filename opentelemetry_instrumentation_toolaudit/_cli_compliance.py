# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The compliance commands of the ``toolaudit`` CLI: ``pseudonym``.

Registered on the CLI's subparsers by :func:`register`; each command's handler is set as the
``run`` default of its parser. Conduct as in ``cli.py``: data on stdout, summary on stderr, exit 0
ok, 1 a failed check, 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

PSEUDONYM_FORMS = ("text", "email", "phone", "ip_address")


def register(commands: Any) -> None:
    """Add the compliance commands to the CLI's subparsers."""
    pseudonym = commands.add_parser(
        "pseudonym",
        help="print the keyed pseudonym of a value, to look a subject up in the trail",
        description="Print the keyed pseudonym (hmac-sha256:<key id>:<32 hex>) that redaction and "
        "the recorder make of VALUE, with the hash key the writer uses "
        "(OTEL_PYTHON_TOOLAUDIT_HASH_KEY, _HASH_KEY_FILE, _HASH_KEY_ID). Only the pseudonym is "
        "printed, never the value; give '-' to read the value from stdin and keep it out of the "
        "shell history.",
    )
    pseudonym.add_argument("value", metavar="VALUE", help="the value, or '-' to read it from stdin")
    pseudonym.add_argument(
        "--as",
        dest="form",
        choices=PSEUDONYM_FORMS,
        default="text",
        help="normalize the value as redaction does for this kind first (email: lower-cased; "
        "phone: digits only) so that it matches pseudonyms made under such keys; default text "
        "(as is: subject identifiers)",
    )
    pseudonym.set_defaults(run=_pseudonym)


def _pseudonym(args: argparse.Namespace) -> int:
    from opentelemetry_instrumentation_toolaudit.cli import EXIT_OK, EXIT_USAGE
    from opentelemetry_instrumentation_toolaudit.redaction._hashkey import HashKey
    from opentelemetry_instrumentation_toolaudit.redaction._placeholders import normalize_for

    value = args.value
    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        print("toolaudit pseudonym: error: VALUE is empty", file=sys.stderr)
        return EXIT_USAGE
    key = HashKey.from_env()
    if key.ephemeral:
        print(
            "toolaudit pseudonym: error: no usable hash key (set OTEL_PYTHON_TOOLAUDIT_HASH_KEY or "
            "_HASH_KEY_FILE as the writer has it): a pseudonym made with a throwaway key matches "
            "nothing",
            file=sys.stderr,
        )
        return EXIT_USAGE
    data = value if args.form == "text" else normalize_for(args.form, value)
    print(key.pseudonym(data))
    print(f"pseudonym under hash key {key.key_id}", file=sys.stderr)
    return EXIT_OK
