"""What a destination's probe answers (``otel-bridge doctor`` prints it), and the TCP test each
probe starts with: a port nobody listens on is named before any protocol is tried."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

PROBE_TIMEOUT = 3.0  # seconds per network step: a doctor must answer quickly


@dataclass(frozen=True)
class ProbeResult:
    destination: str  # as the user knows it: "OTLP", "MLflow"
    ok: bool
    message: str  # ok: what was proven; not ok: the problem, then what to change


def tcp_problem(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``url``'s host and port take a TCP connection, else the start of a sentence
    that the URL completes ("nothing listens on")."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"the host {host!r} does not resolve:"
    except ConnectionRefusedError:
        return "nothing listens on"
    except TimeoutError:
        return f"no answer within {timeout:g} s (a firewall?) from"
    except OSError as error:
        return f"cannot connect ({error.strerror or error}) to"
