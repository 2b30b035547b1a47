"""A token-protected MLflow: a reverse proxy on loopback that lets through only requests
carrying ``Authorization: Bearer <token>`` (401 otherwise), as a gateway in front of a
tracking server does. MLflow has no token server of its own.

with TokenProxy(upstream="http://127.0.0.1:5000", token="tok") as proxy:
    ... MLFLOW_TRACKING_URI=proxy.uri MLFLOW_TRACKING_TOKEN=tok ...
"""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .ports import LOOPBACK
from .servers import ThreadedHttpServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


class TokenProxy(ThreadedHttpServer):
    thread_name = "token-proxy"

    def __init__(self, upstream: str, token: str) -> None:
        super().__init__()
        self.upstream = urlsplit(upstream)
        self.token = token
        self.refused = 0  # requests answered 401
        self.forwarded = 0

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        server = ThreadingHTTPServer(address, Handler)
        server.daemon_threads = True
        return server


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: TokenProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _relay(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.headers.get("Authorization") != f"Bearer {owner.token}":
            owner.refused += 1
            message = b"token required"
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Bearer")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        owner.forwarded += 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = owner.upstream.netloc  # the server checks Host (--allowed-hosts)
        connection = http.client.HTTPConnection(
            owner.upstream.hostname, owner.upstream.port, timeout=30
        )
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay
