"""OTLP metric payloads decoded into plain Python histogram points (what the receiver keeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from .otlp_decode import Protocol, decode_key_values


@dataclass
class HistogramPoint:
    name: str
    unit: str
    attributes: dict[str, Any]
    count: int
    sum: float
    bounds: list[float]
    bucket_counts: list[int]
    temporality: int  # AggregationTemporality: 1 delta, 2 cumulative
    scope_name: str
    scope_schema_url: str
    resource: dict[str, Any]
    protocol: Protocol
    time_unix_nano: int

    @property
    def key(self) -> tuple[str, frozenset[tuple[str, Any]]]:
        """One time series: the metric and its attributes."""
        return self.name, frozenset(self.attributes.items())


def histograms_from_request(
    request: ExportMetricsServiceRequest, protocol: Protocol
) -> list[HistogramPoint]:
    points: list[HistogramPoint] = []
    for resource_metrics in request.resource_metrics:
        resource = decode_key_values(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                if metric.WhichOneof("data") != "histogram":
                    continue
                for point in metric.histogram.data_points:
                    points.append(
                        HistogramPoint(
                            name=metric.name,
                            unit=metric.unit,
                            attributes=decode_key_values(point.attributes),
                            count=point.count,
                            sum=point.sum,
                            bounds=list(point.explicit_bounds),
                            bucket_counts=list(point.bucket_counts),
                            temporality=metric.histogram.aggregation_temporality,
                            scope_name=scope.name,
                            scope_schema_url=scope_metrics.schema_url,
                            resource=resource,
                            protocol=protocol,
                            time_unix_nano=point.time_unix_nano,
                        )
                    )
    return points
