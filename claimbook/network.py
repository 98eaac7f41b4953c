"""Is a host reachable? The one network probe, so that an offline machine fails fast.

The full budget downloads Pets (`claimbook.pets.pets_path`) and ResNet-34's weights
(`claimbook.weights.require_weights`) only when this says the host answers; offline,
both stop at once with a message saying what to download, instead of hanging in a
download.
"""

from __future__ import annotations

import socket


def is_online(host: tuple[str, int], timeout: float = 3.0) -> bool:
    """True when a TCP connection to `host` (name, port) opens within `timeout` s."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False
