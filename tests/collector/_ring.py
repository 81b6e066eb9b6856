# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which endpoint the collector-contrib ``load_balancing`` exporter (v0.161.0) sends a service's
spans to with ``routing_key: service``: a model of its consistent-hash ring, so a test can pick
service names that land on different endpoints.

The ring holds 200 positions per endpoint, ``CRC-32(endpoint || uint32le(i)) mod 131071`` (a
taken position moves to the next free one, at most 10 steps), sorted; a span goes to the first
position at or after ``CRC-32("service.name=<name>|") mod 131071``, wrapping around. A test that
relies on this asserts where the spans arrived, so a change of the exporter's hashing fails it.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from collections.abc import Sequence

_MAX_POSITIONS = 131071
_WEIGHT = 200
_PROBES = 10


def _ring(endpoints: Sequence[str]) -> list[tuple[int, str]]:
    candidates = []
    for endpoint in sorted(endpoints):
        for i in range(_WEIGHT):
            crc = zlib.crc32(endpoint.encode() + struct.pack("<I", i))
            candidates.append((crc % _MAX_POSITIONS, crc, endpoint))
    candidates.sort()
    taken: set[int] = set()
    items = []
    for position, _, endpoint in candidates:
        probes = 0
        while position in taken and probes < _PROBES:
            position = (position + 1) % _MAX_POSITIONS
            probes += 1
        if probes >= _PROBES:
            continue
        taken.add(position)
        items.append((position, endpoint))
    items.sort()
    return items


def endpoint_for_service(endpoints: Sequence[str], service_name: str) -> str:
    """The endpoint (``host:port`` as listed) that gets the spans of ``service_name``."""
    items = _ring(endpoints)
    position = zlib.crc32(f"service.name={service_name}|".encode()) % _MAX_POSITIONS
    at = bisect.bisect_left([p for p, _ in items], position)
    return items[at % len(items)][1]
