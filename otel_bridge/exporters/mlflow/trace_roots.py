"""What MLflow reads only from a trace's ROOT span, carried up to that root.

MLflow takes trace tags (``mlflow.traceTag.<k>``) and the trace list's request/response
previews (the root's inputs/outputs) from the root span alone. An LLM call is rarely the
root: the app's own span is. So the tags an LLM span carries, the first LLM input and the
last LLM output of a trace are remembered until its root span passes, and written there
(never over what the root already has). Children end before their parent, so they pass
first; memory is bounded, the oldest unfinished traces forgotten first.

The resource's ``service.name`` goes on every root as the trace tag ``service.name`` too, so
``tag.`service.name` = '...'`` finds a service's traces on any MLflow server: older servers drop
resource attributes at OTLP ingestion; newer ones (3.17.2 checked) copy them to trace tags
themselves, with the same value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from otel_bridge.exporters.spans import is_root, replace_span

from .dialect import SPAN_INPUTS as MLFLOW_SPAN_INPUTS
from .dialect import SPAN_OUTPUTS as MLFLOW_SPAN_OUTPUTS
from .dialect import TRACE_TAG_PREFIX

SERVICE_NAME = "service.name"
SERVICE_TAG = f"{TRACE_TAG_PREFIX}{SERVICE_NAME}"
DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024


@dataclass
class _Pending:
    tags: dict[str, str] = field(default_factory=dict)
    first_input: tuple[int, str] | None = None  # (start time, messages JSON)
    last_output: tuple[int, str] | None = None  # (end time, messages JSON)

    def size(self) -> int:
        texts = [*self.tags.values()]
        texts += [x[1] for x in (self.first_input, self.last_output) if x is not None]
        return sum(len(t) for t in texts) + 64


class TraceRoots:
    def __init__(self, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._sizes: dict[int, int] = {}
        self._bytes = 0
        self._limit = memory_bytes

    def process(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        for span in spans:
            if not is_root(span) and span.attributes:
                self._remember(span)
        return [self._complete(span) if is_root(span) else span for span in spans]

    def _remember(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        tags = {
            k[len(TRACE_TAG_PREFIX) :]: str(v)
            for k, v in attributes.items()
            if k.startswith(TRACE_TAG_PREFIX)
        }
        messages_in = attributes.get(gen_ai.GEN_AI_INPUT_MESSAGES)
        messages_out = attributes.get(gen_ai.GEN_AI_OUTPUT_MESSAGES)
        if not (tags or messages_in or messages_out):
            return
        trace_id = span.context.trace_id
        pending = self._pending.get(trace_id) or _Pending()
        pending.tags.update(tags)
        start, end = span.start_time or 0, span.end_time or 0
        if isinstance(messages_in, str) and (
            pending.first_input is None or start < pending.first_input[0]
        ):
            pending.first_input = (start, messages_in)
        if isinstance(messages_out, str) and (
            pending.last_output is None or end >= pending.last_output[0]
        ):
            pending.last_output = (end, messages_out)
        self._store(trace_id, pending)

    def _store(self, trace_id: int, pending: _Pending) -> None:
        self._bytes -= self._sizes.get(trace_id, 0)
        size = pending.size()
        self._pending[trace_id] = pending
        self._pending.move_to_end(trace_id)
        self._sizes[trace_id] = size
        self._bytes += size
        while self._bytes > self._limit and len(self._pending) > 1:
            oldest, _ = self._pending.popitem(last=False)
            self._bytes -= self._sizes.pop(oldest)

    def _complete(self, root: ReadableSpan) -> ReadableSpan:
        trace_id = root.context.trace_id
        pending = self._pending.pop(trace_id, None)
        own = root.attributes or {}
        added: dict[str, object] = {}
        service = root.resource.attributes.get(SERVICE_NAME) if root.resource else None
        if service and SERVICE_TAG not in own:
            added[SERVICE_TAG] = str(service)
        if pending is None:
            return replace_span(root, attributes={**own, **added}) if added else root
        self._bytes -= self._sizes.pop(trace_id)
        added.update(
            (f"{TRACE_TAG_PREFIX}{k}", v)
            for k, v in pending.tags.items()
            if f"{TRACE_TAG_PREFIX}{k}" not in own
        )
        has_inputs = MLFLOW_SPAN_INPUTS in own or gen_ai.GEN_AI_INPUT_MESSAGES in own
        has_outputs = MLFLOW_SPAN_OUTPUTS in own or gen_ai.GEN_AI_OUTPUT_MESSAGES in own
        if pending.first_input is not None and not has_inputs:
            added[MLFLOW_SPAN_INPUTS] = pending.first_input[1]
        if pending.last_output is not None and not has_outputs:
            added[MLFLOW_SPAN_OUTPUTS] = pending.last_output[1]
        if not added:
            return root
        return replace_span(root, attributes={**own, **added})
