"""One batch to one destination: send it (the transport retries transient failures), split a
batch the destination refuses as invalid to drop only the spans at fault, and hand back what
could not be delivered now (for the spool).

Dropping is for a destination known to take spans: when no piece of a batch is taken by a
destination that took none since (``keep_if_none_taken``: a server answering 400 to everything,
an old MLflow given gzip, a proxy), the destination is misconfigured and the batch is kept whole
instead of dropped as invalid.

A batch travels as an OTLP ``ExportTraceServiceRequest``: the same bytes go on the wire, into
the spool and back out of it, whichever destination it is for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_bridge.exporters.retry import RejectedError, RetryableError
from otel_bridge.spool.payload import Payload, count_spans

_logger = logging.getLogger(__name__)

# Requests one refused batch may cost while looking for its bad spans: a batch of 512 with one
# bad span needs 2 x 9; past the budget, what is still refused is dropped as invalid.
SPLIT_BUDGET = 32


class Transport(Protocol):
    def send(self, request: ExportTraceServiceRequest, deadline: float, **options: str) -> object:
        """One batch, retried by the transport's policy until ``deadline``. Raises
        :class:`RetryableError` (give up for now) or :class:`RejectedError`; may return the
        number of spans the destination accepted the request but rejected (partial success)."""

    def close(self) -> None: ...


@dataclass
class Outcome:
    delivered: int = 0
    invalid: int = 0  # spans the destination refused (dropped, counted rejected_invalid)
    kept: list[Payload] = field(default_factory=list)  # not delivered now: spool or drop
    retry_after: float | None = None
    error: str | None = None
    refused: bool = False  # the destination said no (not "not now"): someone must fix it

    @property
    def kept_spans(self) -> int:
        return sum(p.spans for p in self.kept)


def deliver(
    transport: Transport,
    payload: Payload,
    deadline: float,
    split_budget: int = SPLIT_BUDGET,
    *,
    keep_if_none_taken: bool = False,
) -> Outcome:
    outcome = Outcome()
    pending = [payload]
    while pending:
        piece = pending.pop(0)
        try:
            rejected = transport.send(piece.request, deadline, **piece.options)
        except RejectedError as error:
            outcome.error = str(error)
            if not error.invalid:  # the destination's fault, not the batch's: keep it all
                outcome.kept = merge_payloads([piece, *pending])
                outcome.refused = True
                return outcome
            if piece.spans <= 1 or split_budget <= 0:
                outcome.invalid += piece.spans
                _logger.debug("otel-bridge: %d spans refused as invalid: %s", piece.spans, error)
                continue
            split_budget -= 1
            pending[:0] = [Payload(r, piece.options) for r in split_request(piece.request)]
        except RetryableError as error:
            outcome.error = str(error)
            outcome.retry_after = error.retry_after
            outcome.kept = merge_payloads([piece, *pending])
            return outcome
        else:
            partial = rejected if isinstance(rejected, int) and rejected > 0 else 0
            partial = min(partial, piece.spans)
            outcome.invalid += partial
            outcome.delivered += piece.spans - partial
    if keep_if_none_taken and outcome.invalid and not outcome.delivered:
        outcome.error = (
            f"{outcome.error} - every span refused, by a destination that took none yet: a "
            "misconfiguration (an old server? a proxy?) rather than bad spans"
        )
        outcome.invalid, outcome.kept, outcome.refused = 0, [payload], True
    return outcome


def split_request(
    request: ExportTraceServiceRequest,
) -> tuple[ExportTraceServiceRequest, ExportTraceServiceRequest]:
    """Two requests with the first and the second half of the spans, resources and scopes kept."""
    half = count_spans(request) // 2
    first, second = ExportTraceServiceRequest(), ExportTraceServiceRequest()
    seen = 0
    for resource_spans in request.resource_spans:
        targets: dict[int, object] = {}
        for scope_spans in resource_spans.scope_spans:
            scoped: dict[int, object] = {}
            for span in scope_spans.spans:
                side = 0 if seen < half else 1
                seen += 1
                if side not in targets:
                    out = (first, second)[side].resource_spans.add()
                    out.resource.CopyFrom(resource_spans.resource)
                    out.schema_url = resource_spans.schema_url
                    targets[side] = out
                if side not in scoped:
                    out_scope = targets[side].scope_spans.add()  # type: ignore[attr-defined]
                    out_scope.scope.CopyFrom(scope_spans.scope)
                    out_scope.schema_url = scope_spans.schema_url
                    scoped[side] = out_scope
                scoped[side].spans.add().CopyFrom(span)  # type: ignore[attr-defined]
    return first, second


def merge_payloads(payloads: list[Payload]) -> list[Payload]:
    """Pieces of one batch back together, one payload per set of options."""
    merged: dict[tuple[tuple[str, str], ...], Payload] = {}
    for payload in payloads:
        key = tuple(sorted(payload.options.items()))
        if key in merged:
            target = merged[key]
            target.request.resource_spans.extend(payload.request.resource_spans)
            target.spans += payload.spans
        else:
            request = ExportTraceServiceRequest()
            request.CopyFrom(payload.request)
            merged[key] = Payload(request, dict(payload.options), payload.spans)
    return list(merged.values())
