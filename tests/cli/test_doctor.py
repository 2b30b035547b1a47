"""`otel-bridge doctor` against live and dead destinations, and a bad configuration."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from mlflow import MlflowClient

from otel_bridge.cli import main
from otel_bridge.redaction import mask_url
from tests.e2e.apps import BIN, base_env
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.ports import free_port
from tests.support.tls import make_tls_files

SECRET = "s3cr3t-header-value"
TOKEN = "tok-7f9c2b"


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["doctor"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_live_destinations_pass_and_secrets_stay_hidden(
    protocol, clean_env, capsys, otlp_receiver, mlflow_server
):
    service = f"doctor-{uuid.uuid4().hex[:8]}"
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    clean_env.setenv("OTEL_SERVICE_NAME", service)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"x-api-key={SECRET},x-team=ml")
    clean_env.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    clean_env.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)

    code, out, err = doctor(capsys)

    assert code == 0, out + err
    assert SECRET not in out + err and TOKEN not in out + err
    assert f"service.name: {service}" in out
    assert f"OTLP: {endpoint}" in out
    assert f"protocol: {protocol} (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL={protocol})" in out
    assert "headers: x-api-key=***, x-team=***" in out
    assert "timeout: 10 s" in out
    assert f"MLflow: server {mlflow_server.uri}" in out
    assert "auth: bearer token ***" in out
    assert "message content (prompts, completions, tool arguments): to mlflow; not to otlp" in out
    assert (
        f"OTLP: ok, {endpoint} accepted an OTLP export request ({protocol}; it carried no span, "
        "nothing is stored)" in out
    )
    experiment = MlflowClient(mlflow_server.uri).get_experiment_by_name(service)
    assert f"experiment {service!r} is id {experiment.experiment_id}" in out
    assert out.rstrip().endswith("all destinations ok")
    # The check really reached the receiver, through the configured transport and headers, and
    # left nothing among the user's traces.
    [received] = otlp_receiver.requests
    assert received.protocol == protocol.split("/")[0]
    assert received.headers["x-api-key"] == SECRET
    assert len(received.request.resource_spans) == 0
    assert otlp_receiver.spans() == []


def test_dead_destinations_fail_with_one_line_each(clean_env, capsys):
    otlp_port, mlflow_port = free_port(), free_port()
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{otlp_port}")
    clean_env.setenv("MLFLOW_TRACKING_URI", f"http://ops:pa55word@127.0.0.1:{mlflow_port}")

    code, out, _ = doctor(capsys)

    assert code == 1
    assert "pa55word" not in out
    problems = [line.strip() for line in out.splitlines() if "nothing listens" in line]
    assert problems == [
        f"OTLP: nothing listens on http://127.0.0.1:{otlp_port} — start Jaeger/the Collector "
        "or fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        f"MLflow: nothing listens on http://ops:***@127.0.0.1:{mlflow_port} — start it "
        "(mlflow server --backend-store-uri sqlite:///mlflow.db) or unset MLFLOW_TRACKING_URI "
        "to use the embedded store",
    ]
    assert "2 destination(s) failed" in out


def test_a_refusing_otlp_backend_points_at_the_headers(clean_env, capsys, otlp_receiver):
    otlp_receiver.fail_with(http_status=401)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp_receiver.http_endpoint)
    clean_env.setenv("OTEL_TRACES_EXPORTER", "otlp")

    code, out, _ = doctor(capsys)

    assert code == 1
    [line] = [line for line in out.splitlines() if "did not accept an OTLP export request" in line]
    assert "401" in line
    assert line.endswith(
        "check OTEL_EXPORTER_OTLP_TRACES_HEADERS (the backend refused the credentials)"
    )


def test_embedded_store_is_checked_without_being_created(clean_env, capsys, tmp_path):
    clean_env.chdir(tmp_path)
    clean_env.setenv("OTEL_SERVICE_NAME", "shop")

    code, out, _ = doctor(capsys)

    assert code == 0, out
    assert f"MLflow: embedded store sqlite:///mlflow.db (the default, file {tmp_path}" in out
    assert "experiment: 'shop'" in out
    assert "does not exist yet; the first traced run creates it (experiment 'shop')" in out
    assert not (tmp_path / "mlflow.db").exists()

    MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").create_experiment("shop")
    code, out, _ = doctor(capsys)
    assert code == 0, out
    assert f"MLflow: ok, store {tmp_path / 'mlflow.db'} opened, experiment 'shop' is id 1" in out


def test_a_store_in_a_directory_still_to_make_passes_as_the_destination_would(
    clean_env, capsys, tmp_path
):
    # The destination makes the missing directories with the store: its probe says so.
    store = tmp_path / "not" / "yet" / "mlflow.db"
    clean_env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")

    code, out, _ = doctor(capsys)

    assert code == 0, out
    assert f"MLflow: ok, store {store} does not exist yet; the first traced run creates it" in out
    assert not (tmp_path / "not").exists()


def test_a_store_that_cannot_be_written_is_the_start_up_check_s_failure(
    clean_env, capsys, tmp_path
):
    blocker = tmp_path / "file"
    blocker.write_text("")
    clean_env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'mlflow.db'}")

    code, out, _ = doctor(capsys)

    assert code == 1, out
    assert (
        f"MLflow: MLFLOW_TRACKING_URI='sqlite:///{blocker / 'mlflow.db'}': {blocker} is not a "
        "directory, so the store cannot be written there" in out
    )


def test_missing_experiment_id_is_a_failed_destination(clean_env, capsys, tmp_path):
    clean_env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    clean_env.setenv("MLFLOW_EXPERIMENT_ID", "42")
    MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()  # create the store

    code, out, _ = doctor(capsys)

    assert code == 1
    assert "MLflow: MLFLOW_EXPERIMENT_ID='42': no such experiment in sqlite:///" in out


def test_a_configuration_error_exits_2_with_the_variable_named(tmp_path):
    # The real command, in its own process: exit code and stream as a user sees them.
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/json",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://localhost:4318/v1/traces",
    )
    done = subprocess.run(
        [str(BIN / "otel-bridge"), "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "otel-bridge doctor: configuration error: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='http/json': "
        "unknown protocol; use 'grpc' or 'http/protobuf' (http/json is not supported; use "
        "http/protobuf)"
    )


def test_a_configuration_error_never_shows_url_credentials(clean_env, capsys):
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://ops:pa55word@mlflow.internal:50x0")

    code, _, err = doctor(capsys)

    assert code == 2
    assert "pa55word" not in err
    assert "MLFLOW_TRACKING_URI='http://ops:***@mlflow.internal:50x0'" in err


def test_sdk_disabled_checks_nothing(clean_env, capsys):
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    code, out, _ = doctor(capsys)
    assert code == 0
    assert "OTEL_SDK_DISABLED=true: the bridge is off" in out
    assert "checks:" not in out


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:p@h:5000", "http://u:***@h:5000"),
        ("https://token@h", "https://***@h"),
        (
            "postgresql://u:p@db/mlflow?password=p&sslmode=require",
            "postgresql://u:***@db/mlflow?password=***&sslmode=***",
        ),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("http://127.0.0.1:4317", "http://127.0.0.1:4317"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def _otlp_failure(clean_env, capsys, endpoint: str, protocol: str, **extra: str) -> str:
    """Doctor with only an OTLP destination that must fail: its one line."""
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol)
    clean_env.setenv("OTEL_TRACES_EXPORTER", "otlp")
    for name, value in extra.items():
        clean_env.setenv(name, value)
    code, out, _ = doctor(capsys)
    assert code == 1
    [line] = [line for line in out.splitlines() if "did not accept an OTLP export request" in line]
    return line


def test_an_http_server_that_is_not_otlp_is_named(clean_env, capsys, openai_server):
    endpoint = f"{openai_server.base_url.rstrip('/')}/v1/traces"
    line = _otlp_failure(clean_env, capsys, endpoint, "http/protobuf")
    assert "HTTP 404" in line
    assert "it answered, but not as an OTLP/HTTP receiver" in line


def test_grpc_to_an_http_port_suggests_the_other_protocol(clean_env, capsys, otlp_receiver):
    line = _otlp_failure(clean_env, capsys, otlp_receiver.http_base, "grpc")
    assert "(grpc, " in line and "gRPC " in line
    assert line.endswith(
        "set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf or fix "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )


def test_a_certificate_the_ca_did_not_sign_points_at_the_tls_settings(clean_env, capsys, tmp_path):
    files = make_tls_files(tmp_path)
    with OtlpReceiver(tls=files.server_tls()) as receiver:
        line = _otlp_failure(
            clean_env,
            capsys,
            receiver.http_endpoint,
            "http/protobuf",
            OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(files.other_ca_cert),
        )
        assert "TLS error" in line
        assert "(the TLS handshake failed)" in line
        assert receiver.spans() == []
