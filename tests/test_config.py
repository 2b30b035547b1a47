"""Every variable the bridge reads: good values make settings, bad ones one clear error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_bridge.config import (
    EMBEDDED_TRACKING_URI,
    ConfigError,
    ContentPolicy,
    content_policy_from_env,
    load_settings,
    parse_headers,
)


def otlp(env: dict[str, str]):
    settings = load_settings(env)
    assert settings.otlp is not None
    return settings.otlp


@pytest.mark.parametrize(
    ("env", "protocol", "endpoint"),
    [
        # LiteLLM's documented endpoint: gRPC port with an HTTP path must reach gRPC 4317.
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4317/v1/traces"},
            "grpc",
            "http://localhost:4317",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4318/v1/traces"},
            "http/protobuf",
            "http://localhost:4318/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:9999/v1/traces"},
            "http/protobuf",
            "http://collector:9999/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:9999"},
            "grpc",
            "http://collector:9999",
        ),
        # the generic endpoint gets the signal path for HTTP, nothing for gRPC
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            "http/protobuf",
            "http://collector:4318/v1/traces",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
            "grpc",
            "http://collector:4317",
        ),
        # the signal-specific URL is used as is, and wins over the generic one
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://specific:4318/custom/path",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            "http/protobuf",
            "http://specific:4318/custom/path",
        ),
        # the signal-specific protocol wins over the generic one
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://otlp.example.com",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            },
            "grpc",
            "https://otlp.example.com",
        ),
    ],
)
def test_otlp_endpoint_and_protocol(env, protocol, endpoint):
    settings = otlp(env)
    assert (settings.protocol, settings.endpoint) == (protocol, endpoint)


def test_no_endpoint_means_no_otlp_destination_and_an_info_line(caplog):
    caplog.set_level("INFO", logger="otel_bridge.config")
    assert load_settings({}).otlp is None
    assert "no OTLP destination" in caplog.text


def test_explicit_otlp_exporter_uses_the_spec_default_endpoint():
    settings = otlp({"OTEL_TRACES_EXPORTER": "otlp"})
    assert (settings.protocol, settings.endpoint) == ("grpc", "http://localhost:4317")
    assert load_settings({"OTEL_TRACES_EXPORTER": "otlp"}).mlflow is None


def test_headers_timeout_compression_are_read():
    settings = otlp(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces",
            "OTEL_EXPORTER_OTLP_HEADERS": "Api-Key=a%20b,x-team=ml",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2.5",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        }
    )
    assert settings.headers == {"api-key": "a b", "x-team": "ml"}
    assert settings.timeout == 2.5
    assert settings.compression == "gzip"


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9\-]{0,15}", fullmatch=True),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
        max_size=5,
    )
)
def test_header_lists_round_trip(headers):
    from urllib.parse import quote

    raw = ",".join(f"{k}={quote(v, safe='')}" for k, v in headers.items())
    assert parse_headers("X", raw) == {k: v.strip() for k, v in headers.items()}


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift",
            },
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='thrift'",
            "unknown protocol",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            },
            "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'",
            "use http/protobuf",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "localhost:4317"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='localhost:4317'",
            "needs a scheme",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost"},
            "OTEL_EXPORTER_OTLP_ENDPOINT='http://localhost'",
            "needs a port",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:99999"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='http://localhost:99999'",
            "port is not a number",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317",
                "OTEL_EXPORTER_OTLP_HEADERS": "api-key",
            },
            "OTEL_EXPORTER_OTLP_HEADERS='api-key'",
            "malformed entry",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon",
            },
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT='soon'",
            "number of seconds",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317",
                "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd",
            },
            "OTEL_EXPORTER_OTLP_COMPRESSION='zstd'",
            "gzip, deflate or none",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c:4317",
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/no/ca.pem",
            },
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE='/no/ca.pem'",
            "no such file",
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp,jaeger"}, "OTEL_TRACES_EXPORTER='otlp,jaeger'", "'jaeger'"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "-1"}, "OTEL_BSP_MAX_QUEUE_SIZE='-1'", "greater than 0"),
        ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED='maybe'", "true or false"),
        (
            {"MLFLOW_TRACKING_URI": "ftp://host/x"},
            "MLFLOW_TRACKING_URI='ftp://host/x'",
            "MLflow server URL",
        ),
        ({"MLFLOW_TRACKING_URI": "./mlruns"}, "MLFLOW_TRACKING_URI='./mlruns'", "file store"),
        ({"MLFLOW_TRACKING_URI": "databricks"}, "MLFLOW_TRACKING_URI='databricks'", "Databricks"),
        ({"MLFLOW_TRACKING_URI": "http://:5000"}, "MLFLOW_TRACKING_URI='http://:5000'", "no host"),
        ({"MLFLOW_EXPERIMENT_ID": "abc"}, "MLFLOW_EXPERIMENT_ID='abc'", "is a number"),
        (
            {"OTEL_BRIDGE_CONTENT_DESTINATIONS": "mlflow,jaeger"},
            "OTEL_BRIDGE_CONTENT_DESTINATIONS='mlflow,jaeger'",
            "unknown destination 'jaeger'",
        ),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "sometimes"},
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT='sometimes'",
            "true or false",
        ),
    ],
)
def test_bad_configuration_names_variable_and_value(env, variable, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(variable), message
    assert fragment in message


def test_a_malformed_header_list_never_echoes_its_secret():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317",
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer sk-secret-123,broken",
            }
        )
    assert "sk-secret-123" not in str(caught.value)
    assert "authorization=***" in str(caught.value)


def test_mlflow_defaults_to_the_embedded_store_with_the_service_as_experiment():
    settings = load_settings({"OTEL_SERVICE_NAME": "checkout-bot"})
    assert settings.mlflow is not None
    assert settings.mlflow.tracking_uri == EMBEDDED_TRACKING_URI
    assert settings.mlflow.embedded
    assert settings.mlflow.experiment_name == "checkout-bot"
    assert load_settings({}).mlflow.experiment_name is None  # MLflow's Default experiment


def test_mlflow_server_settings():
    settings = load_settings(
        {
            "MLFLOW_TRACKING_URI": "http://mlflow:5000/",
            "MLFLOW_EXPERIMENT_NAME": "evals",
            "OTEL_SERVICE_NAME": "ignored-for-the-experiment",
            "MLFLOW_TRACKING_TOKEN": "tok",
        }
    ).mlflow
    assert settings.tracking_uri == "http://mlflow:5000"
    assert not settings.embedded
    assert (settings.experiment_name, settings.token) == ("evals", "tok")


def test_disabled_sdk_builds_nothing():
    settings = load_settings(
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "nonsense"}
    )
    assert settings.disabled
    assert settings.otlp is None and settings.mlflow is None


def test_overrides_replace_their_variables():
    settings = load_settings(
        {"OTEL_SERVICE_NAME": "from-env"},
        service_name="from-code",
        otlp_endpoint="http://c:4318/v1/traces",
        otlp_headers={"x-a": "1"},
    )
    assert settings.service_name == "from-code"
    assert settings.otlp.headers == {"x-a": "1"}
    with pytest.raises(TypeError, match="unknown option"):
        load_settings({}, endpoint="x")


def test_override_values_are_kept_as_given_not_reparsed_as_text():
    """configure(**options) merges values: a header value keeps its commas, '=' and '%xx'."""
    env = {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-env=1"}
    settings = load_settings(
        env,
        otlp_endpoint="http://c:4318/v1/traces",
        otlp_headers={"Authorization": "Bearer a,b=c", "x-raw": "100%25 sure"},
        exporters=["otlp", "mlflow"],
        content_destinations=("otlp",),
        shutdown_timeout=0.25,
        spool=False,
        spool_max_bytes=4096,
    )
    assert settings.otlp.headers == {"authorization": "Bearer a,b=c", "x-raw": "100%25 sure"}
    assert settings.mlflow is not None and not settings.console
    assert settings.content == ContentPolicy(otlp=True, mlflow=False)
    assert settings.shutdown_timeout == 0.25
    assert not settings.spool.enabled and settings.spool.max_bytes == 4096
    # the variable, the text format, is still parsed as the OTLP spec says
    assert load_settings({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).otlp.headers == {
        "x-env": "1"
    }


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("otlp_headers", "a=b", "expected a mapping"),
        ("otlp_headers", {"bad name": "Bearer s3cret"}, "bad header 'bad name'"),
        ("otlp_headers", {"x-a": 1}, "bad header 'x-a'"),
        ("exporters", ["otlp", "jaeger"], "unknown exporter 'jaeger'"),
        ("exporters", [1], "expected a list of names"),
        ("content_destinations", ["zipkin"], "unknown destination 'zipkin'"),
        ("shutdown_timeout", 0, "greater than 0"),
        ("shutdown_timeout", "5", "greater than 0"),
        ("disabled", "yes", "expected True or False"),
        ("spool_max_bytes", 10, "at least 1024"),
        ("service_name", ["a"], "expected text"),
    ],
)
def test_a_bad_override_names_the_option_and_never_shows_a_header_value(option, value, message):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(env, **{option: value})
    assert caught.value.variable == option
    assert "Bearer" not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "policy"),
    [
        ({}, ContentPolicy(otlp=False, mlflow=True)),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, ContentPolicy(True, True)),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"},
            ContentPolicy(False, False),
        ),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
            ContentPolicy(True, True),
        ),
        ({"OTEL_BRIDGE_CONTENT_DESTINATIONS": "otlp"}, ContentPolicy(True, False)),
        ({"OTEL_BRIDGE_CONTENT_DESTINATIONS": "none"}, ContentPolicy(False, False)),
        (
            {
                "OTEL_BRIDGE_CONTENT_DESTINATIONS": "otlp, mlflow",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false",
            },
            ContentPolicy(True, True),
        ),
    ],
)
def test_content_policy(env, policy):
    assert content_policy_from_env(env) == policy


def test_credentials_in_a_url_never_reach_the_message():
    with pytest.raises(ConfigError) as caught:
        load_settings({"MLFLOW_TRACKING_URI": "ftp://ops:pa55word@host/x?token=abc"})
    assert "pa55word" not in str(caught.value)
    assert "abc" not in str(caught.value)
    assert "ftp://ops:***@host/x?token=***" in str(caught.value)


def test_spool_is_on_by_default_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spool = load_settings({}).spool
    assert spool.enabled is True
    assert spool.directory == tmp_path / ".otel-bridge" / "spool"
    assert spool.max_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("value", "size"),
    [("1048576", 1048576), ("64MiB", 64 << 20), ("1.5 MiB", int(1.5 * (1 << 20))), ("2g", 2 << 30)],
)
def test_spool_size_and_directory(value, size, tmp_path):
    env = {
        "OTEL_BRIDGE_SPOOL_MAX_BYTES": value,
        "OTEL_BRIDGE_SPOOL_DIR": str(tmp_path / "not-yet" / "spool"),
    }
    spool = load_settings(env).spool
    assert spool.max_bytes == size
    assert spool.directory == tmp_path / "not-yet" / "spool"  # created when first needed
    assert load_settings({"OTEL_BRIDGE_SPOOL": "off"}).spool.enabled is False
    assert load_settings({}, spool=False, spool_max_bytes="2MiB").spool.max_bytes == 2 << 20


@pytest.mark.parametrize(
    ("env", "variable", "fragment"),
    [
        ({"OTEL_BRIDGE_SPOOL": "maybe"}, "OTEL_BRIDGE_SPOOL", "expected true or false"),
        ({"OTEL_BRIDGE_SPOOL_MAX_BYTES": "lots"}, "OTEL_BRIDGE_SPOOL_MAX_BYTES", "a size in bytes"),
        ({"OTEL_BRIDGE_SPOOL_MAX_BYTES": "12"}, "OTEL_BRIDGE_SPOOL_MAX_BYTES", "at least 1KiB"),
        ({"OTEL_BRIDGE_SPOOL_MAX_BYTES": "inf"}, "OTEL_BRIDGE_SPOOL_MAX_BYTES", "a size in bytes"),
    ],
)
def test_bad_spool_settings(env, variable, fragment):
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert fragment in str(raised.value)


def test_a_spool_directory_that_cannot_be_one_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="is not a directory") as raised:
        load_settings({"OTEL_BRIDGE_SPOOL_DIR": str(blocker / "spool")})
    assert raised.value.variable == "OTEL_BRIDGE_SPOOL_DIR"
    # with the spool off the directory does not matter
    assert (
        load_settings(
            {"OTEL_BRIDGE_SPOOL_DIR": str(blocker / "spool"), "OTEL_BRIDGE_SPOOL": "false"}
        ).spool.enabled
        is False
    )


# -- variables set without effect --------------------------------------------------------------


def ineffective(env: dict[str, str]) -> list[tuple[str, str, str]]:
    return [tuple(item) for item in load_settings(env).ineffective]


NO_OTLP = (
    "no OTLP destination (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT "
    "are unset)"
)


def test_otlp_options_without_an_otlp_destination_are_listed_with_secrets_masked():
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }
    assert ineffective(env) == [
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc", NO_OTLP),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=***", NO_OTLP),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3", NO_OTLP),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", NO_OTLP),
    ]
    # The same options with an endpoint: all in use.
    assert ineffective({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"}) == []


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grcp"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "grcp", "OTEL_TRACES_EXPORTER": "mlflow"},
        {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
        {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"},
    ],
)
def test_an_invalid_otlp_value_is_an_error_even_where_otlp_is_off(env):
    [(variable, value)] = [(k, v) for k, v in env.items() if k != "OTEL_TRACES_EXPORTER"]
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.variable == variable and caught.value.value == value


def test_destinations_left_out_by_otel_traces_exporter_make_their_variables_ineffective():
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317",
        "MLFLOW_TRACKING_URI": "http://user:pw@mlflow:5000",
        "MLFLOW_EXPERIMENT_NAME": "shop",
        "MLFLOW_TRACKING_PASSWORD": "pw",
    }
    otlp_out = "OTEL_TRACES_EXPORTER=console leaves otlp out"
    mlflow_out = "OTEL_TRACES_EXPORTER=console leaves mlflow out"
    assert ineffective(env) == [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4317", otlp_out),
        ("MLFLOW_TRACKING_URI", "http://user:***@mlflow:5000", mlflow_out),
        ("MLFLOW_EXPERIMENT_NAME", "shop", mlflow_out),
        ("MLFLOW_TRACKING_PASSWORD", "***", mlflow_out),
    ]


def test_settings_that_another_one_overrides_are_listed():
    env = {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "MLFLOW_EXPERIMENT_ID": "7",
        "MLFLOW_EXPERIMENT_NAME": "shop",
        "MLFLOW_TRACKING_TOKEN": "tok",
        "MLFLOW_TRACKING_USERNAME": "ops",
        "OTEL_BRIDGE_CONTENT_DESTINATIONS": "mlflow",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_BRIDGE_SPOOL": "false",
        "OTEL_BRIDGE_SPOOL_MAX_BYTES": "1MiB",
    }
    assert ineffective(env) == [
        ("MLFLOW_TRACKING_USERNAME", "ops", "MLFLOW_TRACKING_TOKEN is used instead"),
        ("MLFLOW_EXPERIMENT_NAME", "shop", "MLFLOW_EXPERIMENT_ID is used instead"),
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "true",
            "otel-bridge follows OTEL_BRIDGE_CONTENT_DESTINATIONS",
        ),
        ("OTEL_BRIDGE_SPOOL_MAX_BYTES", "1MiB", "OTEL_BRIDGE_SPOOL turns the spool off"),
    ]


def test_server_credentials_with_the_embedded_store_are_listed():
    env = {"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_INSECURE_TLS": "true"}
    why = "the embedded store (no MLflow server) takes no credentials or TLS"
    assert ineffective(env) == [
        ("MLFLOW_TRACKING_TOKEN", "***", why),
        ("MLFLOW_TRACKING_INSECURE_TLS", "true", why),
    ]


# --- metrics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "endpoint", "protocol"),
    [
        ({}, None, None),  # no endpoint: metrics off
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, None, None),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
            "http://c:4318/v1/metrics",
            "http/protobuf",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}, "http://c:4317", "grpc"),
        (
            {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:9000/v1/metrics"},
            "http://m:9000/v1/metrics",
            "http/protobuf",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            "http://c:4318",
            "grpc",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"},
            None,
            None,
        ),
        ({"OTEL_METRICS_EXPORTER": "otlp"}, "http://localhost:4317", "grpc"),
    ],
)
def test_metrics_destination(env, endpoint, protocol):
    metrics = load_settings(env).metrics
    if endpoint is None:
        assert metrics is None
        return
    assert metrics is not None
    assert (metrics.otlp.endpoint, metrics.otlp.protocol) == (endpoint, protocol)


def test_metrics_headers_interval_and_timeout_are_their_own():
    metrics = load_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_HEADERS": "a=1",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "b=2",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "3",
            "OTEL_METRIC_EXPORT_INTERVAL": "1500",
        }
    ).metrics
    assert metrics is not None
    assert metrics.otlp.headers == {"b": "2"}
    assert metrics.otlp.timeout == 3.0
    assert metrics.interval_millis == 1500


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OTEL_METRICS_EXPORTER": "prometheus"}, "OTEL_METRICS_EXPORTER"),
        (
            {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "collector:4317"},
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRIC_EXPORT_INTERVAL": "-1"},
            "OTEL_METRIC_EXPORT_INTERVAL",
        ),
    ],
)
def test_bad_metrics_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.variable == variable
