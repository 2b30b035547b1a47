"""A reverse proxy in front of a real MLflow server that injects faults into ``POST /v1/traces``
(the door the bridge sends spans through), and passes everything else (the experiment API)
through untouched. Same fault vocabulary as the OTLP receiver: ``fail_with``, ``delay``,
``reset_faults``; ``stop()`` / ``start()`` make it unreachable and back, on the same port.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.otlp_faults import FaultPlan
from tests.support.ports import LOOPBACK, free_port

TRACES_PATH = "/v1/traces"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class FaultProxy:
    def __init__(self, upstream: str, port: int | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or LOOPBACK
        self.upstream_port = parts.port or 80
        self.port = port or free_port()
        self.faults = FaultPlan()
        self.accepted_spans_requests = 0
        self.rejected_requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> FaultProxy:
        if self._server is not None:
            return self
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def fail_with(self, http_status: int, retry_after: float | None = None, times=None) -> None:
        self.faults.fail_with(http_status=http_status, retry_after=retry_after, times=times)

    def delay(self, seconds: float) -> None:
        self.faults.delay(seconds)

    def reset_faults(self) -> None:
        self.faults.reset()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.owner
        if self.path.split("?", 1)[0] == TRACES_PATH and body:
            stall = owner.faults.current_delay
            if stall:
                time.sleep(stall)
            fault = owner.faults.take_fault()
            if fault is not None:
                with owner._lock:
                    owner.rejected_requests += 1
                extra = {}
                if fault.retry_after_header() is not None:
                    extra["Retry-After"] = fault.retry_after_header()
                self._reply(fault.http_status, fault.message.encode(), extra)
                return
        connection = http.client.HTTPConnection(
            owner.upstream_host, owner.upstream_port, timeout=60
        )
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as error:
            self._reply(502, f"upstream unreachable: {error}".encode(), {})
            return
        finally:
            connection.close()
        if self.path.split("?", 1)[0] == TRACES_PATH and response.status < 300:
            with owner._lock:
                owner.accepted_spans_requests += 1
        extra = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in _HOP_BY_HOP | {"content-length", "server", "date"}
        }
        self._reply(response.status, payload, extra)

    def _reply(self, status: int, payload: bytes, extra: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a delay fault): nothing to answer
