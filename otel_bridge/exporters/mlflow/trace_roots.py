"""What MLflow reads only from a trace's ROOT span, carried up to that root.

MLflow takes trace tags (``mlflow.traceTag.<k>``) and the trace list's request/response
previews (the root's inputs/outputs) from the root span alone. An LLM call is rarely the
root: the app's own span is. So the tags an LLM span carries, the first LLM input and the
last LLM output of a trace are remembered until its root span passes, and written there
(never over what the root already has). Children end before their parent, so they pass
first; memory is bounded, the oldest unfinished traces forgotten first.

The root's inputs/outputs are written in the chat shape MLflow previews as text (:mod:`.chat`):
an LLM root's own messages, or the lifted ones. A root that failed gets no lifted output: a
reply that came before the failure is not the trace's response.

When inner spans disagree on a tag's value (40 workers tagged ``worker:N``), the span that
STARTED first wins (ties: the lower span id), whatever order the spans are exported in; the
root's own tags win over all of them.

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
from opentelemetry.trace import StatusCode

from otel_bridge import attributes as keys
from otel_bridge.exporters.spans import is_root, replace_span

from .chat import chat_inputs, chat_outputs
from .dialect import SPAN_INPUTS as MLFLOW_SPAN_INPUTS
from .dialect import SPAN_OUTPUTS as MLFLOW_SPAN_OUTPUTS
from .dialect import TRACE_TAG_PREFIX

SERVICE_NAME = "service.name"
SERVICE_TAG = f"{TRACE_TAG_PREFIX}{SERVICE_NAME}"
DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024


@dataclass
class _Pending:
    # tag -> (start time, span id, value): the first-started span's value wins
    tags: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    # (start time, span id, messages JSON, system instructions JSON or None)
    first_input: tuple[int, int, str, str | None] | None = None
    last_output: tuple[int, int, str] | None = None  # (end time, span id, messages JSON)

    def size(self) -> int:
        texts = [v[2] for v in self.tags.values()]
        if self.first_input is not None:
            texts += [self.first_input[2], self.first_input[3] or ""]
        if self.last_output is not None:
            texts.append(self.last_output[2])
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
        messages_in = attributes.get(keys.INPUT_MESSAGES)
        messages_out = attributes.get(keys.OUTPUT_MESSAGES)
        if not (tags or messages_in or messages_out):
            return
        trace_id = span.context.trace_id
        pending = self._pending.get(trace_id) or _Pending()
        span_id = span.context.span_id
        start, end = span.start_time or 0, span.end_time or 0
        for tag, value in tags.items():
            known = pending.tags.get(tag)
            if known is None or (start, span_id) < known[:2]:
                pending.tags[tag] = (start, span_id, value)
        if isinstance(messages_in, str) and (
            pending.first_input is None or (start, span_id) < pending.first_input[:2]
        ):
            instructions = attributes.get(keys.SYSTEM_INSTRUCTIONS)
            system = instructions if isinstance(instructions, str) else None
            pending.first_input = (start, span_id, messages_in, system)
        if isinstance(messages_out, str) and (
            pending.last_output is None or (end, span_id) > pending.last_output[:2]
        ):
            pending.last_output = (end, span_id, messages_out)
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
        if pending is not None:
            self._bytes -= self._sizes.pop(trace_id)
        own = root.attributes or {}
        added: dict[str, object] = {}
        service = root.resource.attributes.get(SERVICE_NAME) if root.resource else None
        if service and SERVICE_TAG not in own:
            added[SERVICE_TAG] = str(service)
        if pending is not None:
            added.update(
                (f"{TRACE_TAG_PREFIX}{k}", value)
                for k, (_, _, value) in sorted(pending.tags.items())
                if f"{TRACE_TAG_PREFIX}{k}" not in own
            )
        if MLFLOW_SPAN_INPUTS not in own:
            if keys.INPUT_MESSAGES in own or keys.SYSTEM_INSTRUCTIONS in own:
                messages, system = own.get(keys.INPUT_MESSAGES), own.get(keys.SYSTEM_INSTRUCTIONS)
                inputs = chat_inputs(messages, system)
            elif pending is not None and pending.first_input is not None:
                _, _, messages, system = pending.first_input
                inputs = chat_inputs(messages, system) or messages
            else:
                inputs = None
            if inputs is not None:
                added[MLFLOW_SPAN_INPUTS] = inputs
        if MLFLOW_SPAN_OUTPUTS not in own:
            if keys.OUTPUT_MESSAGES in own:
                outputs = chat_outputs(own[keys.OUTPUT_MESSAGES])
            elif pending is not None and pending.last_output is not None and not _failed(root):
                outputs = chat_outputs(pending.last_output[2]) or pending.last_output[2]
            else:
                outputs = None
            if outputs is not None:
                added[MLFLOW_SPAN_OUTPUTS] = outputs
        if not added:
            return root
        return replace_span(root, attributes={**own, **added})


def _failed(span: ReadableSpan) -> bool:
    return span.status is not None and span.status.status_code is StatusCode.ERROR
