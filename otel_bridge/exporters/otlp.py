"""The OTLP destination.

The bridge's pipeline sends through :class:`OtlpHttpTransport` / :class:`OtlpGrpcTransport`: one
``ExportTraceServiceRequest`` per call, retried by :mod:`otel_bridge.exporters.retry` (the one
retry policy, the OTLP specification's rules), and able to send spooled requests again. The
SDK's exporters retry on their own terms, say only SUCCESS or FAILURE (so a refused batch cannot
be told from an unreachable backend) and take spans, not requests, so none is used here;
``otel-bridge doctor`` sends its (empty) check request through these transports too.

TLS, headers, compression and timeout follow the same settings and the same rules as the SDK's
exporters (``https`` endpoints and the ``..._INSECURE`` switch for gRPC; CA bundle and client
certificate for both).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otel_bridge.config import OtlpSettings
from otel_bridge.exporters.retry import (
    RejectedError,
    RetryableError,
    RetryPolicy,
    call_with_retry,
    grpc_error,
    http_error,
)
from otel_bridge.exporters.tls import TlsSession

if TYPE_CHECKING:
    import grpc  # imported at run time by the gRPC transport alone

USER_AGENT = "otel-bridge"


class OtlpHttpTransport:
    """OTLP/HTTP protobuf POSTs to the full traces URL."""

    def __init__(self, settings: OtlpSettings, policy: RetryPolicy | None = None) -> None:
        self._settings = settings
        self._policy = policy or RetryPolicy()
        self._stop = threading.Event()
        self._session = self._new_session()

    def _new_session(self) -> requests.Session:
        settings = self._settings
        session = TlsSession()  # the CA below wins over REQUESTS_CA_BUNDLE
        session.headers.update({"User-Agent": USER_AGENT, **settings.headers})
        session.headers["Content-Type"] = "application/x-protobuf"
        if settings.compression:
            session.headers["Content-Encoding"] = settings.compression
        session.verify = settings.certificate or True
        if settings.client_certificate:
            session.cert = (
                (settings.client_certificate, settings.client_key)
                if settings.client_key
                else settings.client_certificate
            )
        return session

    def send(self, request: ExportTraceServiceRequest, deadline: float, **_: str) -> int:
        body = request.SerializeToString()
        if self._settings.compression == "gzip":
            body = gzip.compress(body, compresslevel=5)
        elif self._settings.compression == "deflate":
            body = zlib.compress(body)
        return call_with_retry(
            lambda: self._post(body, deadline),
            deadline=deadline,
            policy=self._policy,
            stop=self._stop,
        )

    def _post(self, body: bytes, deadline: float) -> int:
        url = self._settings.endpoint
        timeout = max(0.1, min(self._settings.timeout, deadline - time.monotonic()))
        try:
            response = self._session.post(url, data=body, timeout=timeout, allow_redirects=False)
        except requests.exceptions.SSLError as error:
            # Not retried: a certificate problem does not go away by itself (kept, spooled).
            raise RejectedError(f"TLS error posting to {url}: {error}", "TLS") from None
        except requests.RequestException as error:
            raise RetryableError(f"{type(error).__name__} posting to {url}") from None
        if 200 <= response.status_code < 300:
            return _rejected_spans(response.content)
        detail = f"HTTP {response.status_code} from {url}: {response.text[:300]}"
        raise http_error(response.status_code, detail, response.headers.get("Retry-After"))

    def after_fork(self) -> None:
        """In a forked child: the parent's pooled connections are not this process's."""
        self._session = self._new_session()

    def close(self) -> None:
        self._stop.set()
        self._session.close()


class OtlpGrpcTransport:
    """OTLP/gRPC ``TraceService/Export`` calls on one channel."""

    def __init__(self, settings: OtlpSettings, policy: RetryPolicy | None = None) -> None:
        self._settings = settings
        self._policy = policy or RetryPolicy()
        self._stop = threading.Event()
        self._metadata = tuple(settings.headers.items()) or None
        self._channel: Any = None
        self._stub: Any = None
        self._open()

    def _open(self) -> None:
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc import _OTLP_GRPC_CHANNEL_OPTIONS
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
            TraceServiceStub,
        )

        settings = self._settings
        compression = {
            "gzip": grpc.Compression.Gzip,
            "deflate": grpc.Compression.Deflate,
            None: grpc.Compression.NoCompression,
        }[settings.compression]
        scheme, _, target = settings.endpoint.partition("://")
        insecure = settings.insecure
        if scheme == "https":
            insecure = False
        elif insecure is None:
            insecure = scheme == "http"
        options = list(_OTLP_GRPC_CHANNEL_OPTIONS)
        if insecure:
            channel = grpc.insecure_channel(target, compression=compression, options=options)
        else:
            channel = grpc.secure_channel(
                target, _grpc_credentials(settings), compression=compression, options=options
            )
        self._channel = channel
        self._stub = TraceServiceStub(channel)

    def send(self, request: ExportTraceServiceRequest, deadline: float, **_: str) -> int:
        return call_with_retry(
            lambda: self._call(request, deadline),
            deadline=deadline,
            policy=self._policy,
            stop=self._stop,
        )

    def _call(self, request: ExportTraceServiceRequest, deadline: float) -> int:
        import grpc

        timeout = max(0.1, min(self._settings.timeout, deadline - time.monotonic()))
        try:
            response = self._stub.Export(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            name = code.name if code is not None else "UNKNOWN"
            details = error.details() if hasattr(error, "details") else str(error)
            detail = f"gRPC {name} from {self._settings.endpoint}: {details}"
            raise grpc_error(name, detail, grpc_retry_delay(error)) from None
        partial = getattr(response, "partial_success", None)
        return int(getattr(partial, "rejected_spans", 0) or 0)

    def after_fork(self) -> None:
        self._open()

    def close(self) -> None:
        self._stop.set()
        if self._channel is not None:
            self._channel.close()


def grpc_retry_delay(error: Any) -> float | None:
    """The server's ``RetryInfo`` delay: in the rich status (``grpc-status-details-bin``) or
    in ``google.rpc.retryinfo-bin`` (what the SDK's exporter reads)."""
    try:
        metadata = dict(error.trailing_metadata() or ())
    except Exception:
        return None
    from google.rpc.error_details_pb2 import RetryInfo

    raw = metadata.get("google.rpc.retryinfo-bin")
    try:
        if raw is not None:
            info = RetryInfo.FromString(raw)
            return float(info.retry_delay.ToNanoseconds()) / 1e9
        status_raw = metadata.get("grpc-status-details-bin")
        if status_raw is not None:
            from google.rpc.status_pb2 import Status

            for detail in Status.FromString(status_raw).details:
                if detail.Is(RetryInfo.DESCRIPTOR):
                    info = RetryInfo()
                    detail.Unpack(info)
                    return float(info.retry_delay.ToNanoseconds()) / 1e9
    except Exception:  # a malformed hint is no hint
        return None
    return None


def _rejected_spans(body: bytes) -> int:
    """OTLP partial success: spans the receiver accepted the request for but dropped."""
    if not body:
        return 0
    try:
        response = ExportTraceServiceResponse.FromString(body)
    except Exception:
        return 0
    return int(response.partial_success.rejected_spans or 0)


def build_otlp_transport(
    settings: OtlpSettings, policy: RetryPolicy | None = None
) -> OtlpHttpTransport | OtlpGrpcTransport:
    if settings.protocol == "grpc":
        return OtlpGrpcTransport(settings, policy)
    return OtlpHttpTransport(settings, policy)


def _grpc_credentials(settings: OtlpSettings) -> grpc.ChannelCredentials:
    import grpc

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as file:
            return file.read()

    return grpc.ssl_channel_credentials(
        root_certificates=read(settings.certificate),
        private_key=read(settings.client_key),
        certificate_chain=read(settings.client_certificate),
    )
