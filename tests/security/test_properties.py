"""Property-based tests: arbitrary message shapes and configuration strings.

* Serialising content never raises, stays within its limit, is valid UTF-8, and is either valid
  JSON or marked as truncated; a key-shaped secret anywhere in it never comes out, not even cut.
* An instrumented call with arbitrary arguments hands back exactly what the call returned (the
  same object) or raised (the same exception), and its span encodes as OTLP protobuf.
* ``load_settings`` raises nothing but ``ConfigError`` (or ``TypeError`` for an unknown option)
  whatever the environment holds.
"""

from __future__ import annotations

import contextlib
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge import config
from otel_bridge.config import ConfigError, load_settings
from otel_bridge.instrumentation import content
from otel_bridge.instrumentation.calls import Settings
from otel_bridge.instrumentation.content import TRUNCATION_MARKER, to_json
from otel_bridge.instrumentation.operations import OPERATIONS
from otel_bridge.instrumentation.wrappers import make_wrapper

_MARKER = TRUNCATION_MARKER.split("{", 1)[0]
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class NoDict:
    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("no str")

    def __repr__(self) -> str:
        raise ValueError("no repr")


class Raising:
    def __getattr__(self, name: str) -> Any:
        raise KeyError(name)


# -- values -------------------------------------------------------------------------------------

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_text = st.text(st.characters(), max_size=40) | st.text(surrogates, min_size=1, max_size=4)
huge_text = st.builds(
    lambda char, n: char * n, st.sampled_from("ab\u00e9\u4e2d\ud800"), st.integers(0, 300_000)
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**4400, max_value=10**4500),  # too long for str()
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    huge_text,
    st.binary(max_size=40),
    st.builds(NoDict, st.integers()),
    st.builds(Unprintable),
    st.builds(Raising),
    st.builds(object),
    st.frozensets(st.integers(), max_size=3),
)
keys = st.one_of(any_text, st.integers(), st.none(), st.tuples(st.integers()))
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)
roles = st.sampled_from(["user", "assistant", "system", "tool", "function", None, 3])
part_types = st.sampled_from(["text", "image_url", "input_audio", "file", "image", "x", None])
parts = st.one_of(
    values,
    st.fixed_dictionaries(
        {"type": part_types},
        optional={
            "text": values,
            "image_url": values,
            "input_audio": values,
            "file": values,
            "source": values,
            "inline_data": values,
        },
    ),
)
messages_values = st.one_of(
    st.none(),
    values,
    st.lists(
        st.one_of(
            values,
            st.fixed_dictionaries(
                {"role": roles},
                optional={
                    "content": st.one_of(values, st.lists(parts, max_size=4)),
                    "tool_calls": st.one_of(values, st.lists(values, max_size=3)),
                    "tool_call_id": values,
                    "name": values,
                    "reasoning_content": values,
                },
            ),
        ),
        max_size=5,
    ),
)


def _check_text(text: str, max_length: int) -> None:
    assert isinstance(text, str)
    assert len(text) <= max_length
    text.encode("utf-8")
    if _MARKER not in text:
        json.loads(text)


@PROPERTY_SETTINGS
@given(value=values, max_length=st.integers(200, 70_000))
def test_to_json_is_total(value, max_length):
    _check_text(to_json(value, max_length), max_length)


@PROPERTY_SETTINGS
@given(messages=messages_values, max_length=st.integers(200, 70_000))
def test_message_shapes_serialise(messages, max_length):
    built = content.chat_input_messages(messages)
    _check_text(to_json(built, max_length), max_length)
    _check_text(to_json(content.responses_input_messages(messages), max_length), max_length)
    _check_text(to_json(content.tool_definitions(messages), max_length), max_length)


SECRETS = [
    "sk-proj-Q8xR2vT5wY9zB3nM6kL1pJ4hG7fD0sA",
    "sk-Q8xR2vT5wY9zB3nM6kL1pJ4hG",  # plain sk-: masked where a word starts
    "AKIAQ8XR2VT5WY9ZB3NM",
    "ghp_Q8xR2vT5wY9zB3nM6kL1pJ4hG7fD0sAbCdEf",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
]


@PROPERTY_SETTINGS
@given(
    secret=st.sampled_from(SECRETS),
    before=st.text(string.printable, max_size=3000),
    separator=st.sampled_from([" ", "\n", "\t", '"', "=", ":", "(", "/", ","]),
    after=st.text(string.printable, max_size=3000),
    padding=st.integers(0, 5000),
    max_length=st.integers(200, 9000),
    nested=st.booleans(),
)
def test_a_key_never_comes_out_even_cut(
    secret, before, separator, after, padding, max_length, nested
):
    text = f"{before}{' ' * padding}{separator}{secret}{after}"
    value = [{"role": "user", "parts": [{"type": "text", "content": text}]}] if nested else text
    out = to_json(value, max_length)
    _check_text(out, max_length)
    for piece in (secret, secret[:12], secret[8:]):
        assert piece not in out


# -- instrumented calls -------------------------------------------------------------------------

call_kwargs = st.fixed_dictionaries(
    {"model": st.one_of(any_text, values), "messages": messages_values},
    optional={
        "tools": st.one_of(values, st.lists(values, max_size=3)),
        "metadata": st.one_of(
            values, st.dictionaries(st.sampled_from(["tags", "session_id", "user_id"]), values)
        ),
        "user": values,
        "stop": values,
        "temperature": values,
        "max_tokens": values,
        "n": values,
        "seed": values,
        "response_format": values,
        "api_base": st.one_of(any_text, values),
        "stream": values,
    },
)
responses = st.one_of(
    values,
    st.fixed_dictionaries(
        {"id": values, "model": values, "choices": st.one_of(values, st.lists(values, max_size=2))},
        optional={"usage": values},
    ),
)


@pytest.fixture(scope="module")
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otel_bridge.instrumentation.litellm")
    yield tracer, exporter
    provider.shutdown()


COMPLETION = next(op for op in OPERATIONS if op.name == "completion")


@PROPERTY_SETTINGS
@given(kwargs=call_kwargs, response=responses, fail=st.booleans())
def test_a_call_gets_back_exactly_what_it_gave(tracing, kwargs, response, fail):
    tracer, exporter = tracing
    exporter.clear()
    error = RuntimeError("upstream said", kwargs.get("api_base"))  # str() may raise

    def target(*args: Any, **kw: Any) -> Any:
        if fail:
            raise error
        return response

    wrapper = make_wrapper(COMPLETION, Settings(tracer, capture=True, max_length=4096))
    if fail:
        with pytest.raises(RuntimeError) as caught:
            wrapper(target, None, (), dict(kwargs))
        assert caught.value is error
    else:
        assert wrapper(target, None, (), dict(kwargs)) is response
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    encode_spans(spans).SerializeToString()  # raises if a span cannot be encoded at all
    for value in (spans[0].attributes or {}).values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, str):
                item.encode("utf-8")  # a lone surrogate would make the encoder drop it


# -- configuration ------------------------------------------------------------------------------

VARIABLES = [
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OTEL_BRIDGE_CONTENT_DESTINATIONS",
    "OTEL_BRIDGE_SHUTDOWN_TIMEOUT",
    "OTEL_BRIDGE_SPOOL",
    "OTEL_BRIDGE_SPOOL_DIR",
    "OTEL_BRIDGE_SPOOL_MAX_BYTES",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_INSECURE_TLS",
]
# Values near the ones the parser looks for, and anything at all.
config_values = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "true",
            "FALSE",
            "0",
            "-1",
            "1e400",
            "nan",
            "inf",
            "grpc",
            "http/protobuf",
            "http/json",
            "gzip",
            "otlp,mlflow",
            "none",
            "console,otlp",
            "http://localhost:4317",
            "https://h:99999",
            "http://[::1",
            "http://user:pw@h:4318/v1/traces",
            "sqlite:///mlflow.db",
            "databricks",
            "./mlruns",
            "a=b,c",
            "=x",
            "k=%zz",
            "~nosuchuser/spool",
            "/dev/null/x",
            "64MiB",
            "10 GB",
            "1.5k",
            "\x00",
        ]
    ),
)
environments = st.dictionaries(st.sampled_from(VARIABLES), config_values, max_size=8)


@PROPERTY_SETTINGS
@given(env=environments)
def test_load_settings_raises_only_config_errors(env):
    try:
        settings_ = load_settings(env)
    except ConfigError as error:
        assert isinstance(error.variable, str), error
        return
    assert isinstance(settings_, config.Settings)


OPTIONS = [*config._OVERRIDE_VARS, "endpoint", ""]
option_values = st.one_of(
    st.none(),
    config_values,
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(config_values, max_size=3),
    st.dictionaries(config_values, config_values, max_size=3),
)


@PROPERTY_SETTINGS
@given(option=st.sampled_from(OPTIONS) | st.text(max_size=20), value=option_values)
def test_configure_options_raise_only_type_or_config_errors(option, value):
    with contextlib.suppress(ConfigError, TypeError):
        load_settings({}, **{option: value})
