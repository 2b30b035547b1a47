"""The OTLP destination: the SDK's own exporters, the class picked by the protocol setting."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExporter

from otel_bridge.config import OtlpSettings


def build_otlp_exporter(settings: OtlpSettings) -> SpanExporter:
    if settings.protocol == "grpc":
        from grpc import Compression as GrpcCompression
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        compression = {
            "gzip": GrpcCompression.Gzip,
            "deflate": GrpcCompression.Deflate,
            None: GrpcCompression.NoCompression,
        }[settings.compression]
        return OTLPSpanExporter(
            endpoint=settings.endpoint,
            insecure=settings.insecure,
            credentials=_grpc_credentials(settings),
            headers=settings.headers or None,
            timeout=settings.timeout,
            compression=compression,
        )

    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(
        endpoint=settings.endpoint,
        certificate_file=settings.certificate,
        client_certificate_file=settings.client_certificate,
        client_key_file=settings.client_key,
        headers=settings.headers or None,
        timeout=settings.timeout,
        compression=HttpCompression(settings.compression or "none"),
    )


def _grpc_credentials(settings: OtlpSettings):  # -> grpc.ChannelCredentials | None
    if not (settings.certificate or settings.client_certificate):
        return None
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
