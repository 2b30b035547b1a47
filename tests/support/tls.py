"""TLS for the loopback test servers: a throwaway CA, a server certificate for 127.0.0.1 and
localhost, a client certificate (mTLS), and a TLS-terminating reverse proxy.

files = make_tls_files(tmp_path)
with OtlpReceiver(tls=files.server_tls()) as receiver:           # https / gRPC with TLS
    ... OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=files.ca_cert ...
with OtlpReceiver(tls=files.server_tls(require_client_cert=True)) as receiver:   # mTLS
with TlsReverseProxy(upstream=mlflow_server.uri, tls=files.server_tls()) as proxy:
    ... MLFLOW_TRACKING_URI=proxy.uri MLFLOW_TRACKING_SERVER_CERT_PATH=files.ca_cert ...
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import ssl
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .ports import LOOPBACK
from .servers import ThreadedHttpServer


@dataclass(frozen=True)
class ServerTls:
    """What a server needs: its certificate and key, and the CA its clients must be signed by
    (None: no client certificate asked for)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_ca_file)
        return context

    def grpc_credentials(self) -> Any:
        import grpc

        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=(
                self.client_ca_file.read_bytes() if self.client_ca_file is not None else None
            ),
            require_client_auth=self.client_ca_file is not None,
        )


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_cert: Path  # a CA that signed none of these: trusting it must not be enough

    def server_tls(self, require_client_cert: bool = False) -> ServerTls:
        return ServerTls(
            self.server_cert, self.server_key, self.ca_cert if require_client_cert else None
        )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate it signed,
    and an unrelated CA, as PEM files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("otel-bridge test CA")
    server, server_key = _leaf("127.0.0.1", ca, ca_key, server=True)
    client, client_key = _leaf("otel-bridge test client", ca, ca_key, server=False)
    other, _ = _ca("some other CA")
    return TlsFiles(
        ca_cert=_write_cert(ca, directory / "ca.pem"),
        server_cert=_write_cert(server, directory / "server.pem"),
        server_key=_write_key(server_key, directory / "server-key.pem"),
        client_cert=_write_cert(client, directory / "client.pem"),
        client_key=_write_key(client_key, directory / "client-key.pem"),
        other_ca_cert=_write_cert(other, directory / "other-ca.pem"),
    )


# --- a TLS-terminating reverse proxy ---------------------------------------------------------

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


class TlsReverseProxy(ThreadedHttpServer):
    """HTTPS on 127.0.0.1 in front of a plain-HTTP server on loopback (an MLflow server):
    every request forwarded as it came, the Host header set to the upstream's."""

    thread_name = "tls-proxy"

    def __init__(self, upstream: str, tls: ServerTls) -> None:
        super().__init__()
        self.upstream = urlsplit(upstream)
        self.tls = tls
        self.forwarded = 0
        self.handshake_failures = 0

    @property
    def uri(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def _make_server(self, address: tuple[str, int]) -> _TlsServer:
        return _TlsServer(address, self)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: TlsReverseProxy) -> None:
        self.owner = owner
        self.context = owner.tls.ssl_context()
        super().__init__(address, _ProxyHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake in the connection's own thread: a client that refuses the certificate
        # must not stall the accepting loop.
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.owner.handshake_failures += 1
            return
        super().finish_request(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _TlsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = owner.upstream.netloc
        connection = http.client.HTTPConnection(
            owner.upstream.hostname, owner.upstream.port, timeout=60
        )
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            owner.forwarded += 1
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward
