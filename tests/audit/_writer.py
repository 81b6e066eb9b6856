# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A writer process for durability tests: appends batches and prints each acknowledged record."""

from __future__ import annotations

import random
import sys

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from tests.audit.conftest import body


def main() -> None:
    url, key_file, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(name)
    log = AuditLog(open_sink(url), signer=NoteSigner.from_file(key_file), checkpoint_every=50)
    written = 0
    while count < 0 or written < count:
        size = rng.randint(1, 40) if count < 0 else min(rng.randint(1, 10), count - written)
        batch = [body(rng.randrange(10**6), writer=name, n=written + i) for i in range(size)]
        for stored in log.append(batch):
            # Printed only after append() returned: every line is an acknowledged record.
            print(stored.seq, stored.entry_hash, flush=True)
        written += size
    log.close()


if __name__ == "__main__":
    main()
