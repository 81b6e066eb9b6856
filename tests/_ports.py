# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Ports for the servers the tests start (``toolaudit serve``, the Collector, witnesses).

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from its ephemeral range, the
range every outgoing connection also draws from: between the test closing that socket and the
server binding the port, a client connection (to PostgreSQL, to another server) may take it, and
the server fails with "address already in use". These ports are taken below that range instead,
where only listeners bind, and never twice in one test run.
"""

from __future__ import annotations

import random
import socket

_LOWEST = 20000
_given: set[int] = set()


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, outside the ephemeral range."""
    highest = max(_LOWEST + 1000, _ephemeral_start())
    picker = random.Random()
    for _ in range(1000):
        port = picker.randrange(_LOWEST, highest)
        if port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free TCP port below the ephemeral range")
