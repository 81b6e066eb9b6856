# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the entry-hash index (``schema.LEAF_HASH_INDEX``) costs appends: the same records appended
to a store that has it and to one whose index was dropped, in the same run.

Run from the repository root::

    python bench/leaf_hash_index.py                       # 100,000 records, SQLite
    python bench/leaf_hash_index.py --records 200000 --sinks sqlite,postgres

For each sink it appends ``--records`` prebuilt bodies (``bench/query.py``'s year of tool calls)
through ``AuditLog.append`` in batches of ``--batch`` (512, the span processor's default), to a
store without the index (the baseline) and to one with it, alternating the two for ``--rounds``
rounds, and prints each one's median records per second and their ratio. What the index saves the
access report's proofs check is printed by ``bench/query.py`` (``report (proofs)``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats_indexes import compare

from opentelemetry_instrumentation_toolaudit.ledger.schema import LEAF_HASH_INDEX


def main() -> None:
    compare(
        __doc__.splitlines()[0],
        [LEAF_HASH_INDEX],
        "without the entry-hash index",
        "with it",
        "bench.example/leaf",
    )


if __name__ == "__main__":
    main()
