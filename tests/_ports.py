"""One way for the suite to pick a TCP port for a server it starts on loopback.

A server that takes ``--port N`` (uvicorn, waitress, redis-server, the command's fake)
is given a port that was free a moment before it binds. A port from ``bind(0)`` would
come from the kernel's ephemeral range, the range every ``bind(0)`` and every outgoing
connection of every test running in parallel draws from: in between, another test's
fake (which binds port 0) can take it, and the requests meant for the new server then
reach that fake (a 401, in one run of six workers). So the port is drawn at random from
below that range, where nothing else here takes ports, and checked free.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; IANA's range starts higher still (49152)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, below the ephemeral range.

    Example:
        >>> _LOWEST <= free_port() < _ephemeral_start()
        True
    """
    high = _ephemeral_start()
    for _ in range(100):
        port = random.randrange(_LOWEST, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port found in {_LOWEST}..{high - 1}")
