"""Issue 8, authenticated servers: MLflow's basic-auth app and a token-protected server (a
gateway checking `Authorization: Bearer`). The bridge authenticates from the standard MLflow
variables; wrong or missing credentials, or a user who may not write traces, stop
`configure()` / `otel-bridge run` and fail `otel-bridge doctor` with the variable named and
no secret shown, instead of losing the traces at every export."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest
import requests
from mlflow import MlflowClient
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_bridge.cli import main
from otel_bridge.config import ConfigError, MlflowSettings, load_settings
from otel_bridge.exporters.mlflow import MlflowSpanExporter
from tests.e2e.apps import ONE_SPAN_APP, base_env, run_app, stopped_or_reported
from tests.mlflow.bridged import (
    LAST_ANSWER,
    QUESTION,
    TAGS,
    Bridged,
    finish,
    llm_trace,
    start_bridged_app,
)
from tests.support.mlflow_server import MlflowServer
from tests.support.mlflow_traces import wait_for_traces
from tests.support.token_proxy import TokenProxy

pytestmark = pytest.mark.e2e

ADMIN = ("admin", "admin-password-8d1f2c")
ALICE = ("alice", "alice-password-3b7e91")  # creates her experiment: may write to it
BOB = ("bob", "bob-password-5c0a44")  # default permission READ: may not write to hers
TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server --app-name basic-auth` (needs mlflow[auth]), with two users."""
    pytest.importorskip(
        "flask_wtf", reason="mlflow[auth] is not installed (pip install -e '.[auth]')"
    )
    workdir = tmp_path_factory.mktemp("mlflow-basic-auth")
    server = MlflowServer(
        workdir,
        extra_args=["--app-name", "basic-auth"],
        extra_env={
            "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,
            "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN[0],
            "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        },
    )
    server.start(timeout=180)
    try:
        for user, password in (ALICE, BOB):
            created = requests.post(
                f"{server.uri}/api/2.0/mlflow/users/create",
                json={"username": user, "password": password},
                auth=ADMIN,
                timeout=30,
            )
            assert created.status_code == 200, created.text
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def token_proxy(mlflow_server: MlflowServer) -> Iterator[TokenProxy]:
    with TokenProxy(mlflow_server.uri, TOKEN) as proxy:
        yield proxy


def basic(server: MlflowServer, user: tuple[str, str], **fields) -> MlflowSettings:
    return MlflowSettings(server.uri, username=user[0], password=user[1], **fields)


def refusal(settings: MlflowSettings) -> ConfigError:
    """What the MLflow destination's thread finds when it connects (building it asks nothing)."""
    exporter = MlflowSpanExporter(settings)
    with pytest.raises(ConfigError) as caught:
        exporter.connect()
    return caught.value


@pytest.fixture(scope="module")
def alice_experiment(auth_server) -> str:
    """Alice's experiment: the bridge creates it with her credentials."""
    name = f"alice-{uuid.uuid4().hex[:8]}"
    exporter = MlflowSpanExporter(basic(auth_server, ALICE, experiment_name=name))
    exporter.connect()
    exporter.shutdown()
    return name


# --- basic-auth: success -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def alice_app(auth_server, alice_experiment, tmp_path_factory) -> Bridged:
    """The bridged app under `otel-bridge run` as alice, one trace inside an MLflow run."""
    tag = uuid.uuid4().hex[:8]
    env = base_env(
        MLFLOW_TRACKING_URI=auth_server.uri,
        MLFLOW_TRACKING_USERNAME=ALICE[0],
        MLFLOW_TRACKING_PASSWORD=ALICE[1],
        MLFLOW_EXPERIMENT_NAME=alice_experiment,
        OTEL_SERVICE_NAME=f"svc-auth-{tag}",
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
        TEST_SESSION=f"session-auth-{tag}",
        TEST_USER=f"user-auth-{tag}",
        TEST_MLFLOW_RUN="1",
    )
    run = finish(start_bridged_app(tmp_path_factory.mktemp("alice-app"), env))
    experiment = requests.get(
        f"{auth_server.uri}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": alice_experiment},
        auth=ALICE,
        timeout=30,
    ).json()["experiment"]
    return Bridged(
        mode="server",
        tracking_uri=auth_server.uri,
        experiment_id=experiment["experiment_id"],
        service=env["OTEL_SERVICE_NAME"],
        session=env["TEST_SESSION"],
        user=env["TEST_USER"],
        result=run.result,
    )


def test_a_basic_auth_server_gets_the_traces_searchable_with_previews(alice_app, clean_env):
    clean_env.setenv("MLFLOW_TRACKING_USERNAME", ALICE[0])  # MLflow's own client reads them
    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", ALICE[1])
    app = alice_app
    app.wait_until_stored()
    for filter_string in (
        f"tag.`service.name` = '{app.service}'",
        f"tag.jobID = '{TAGS['jobID']}'",
        f"metadata.`mlflow.trace.session` = '{app.session}'",
        f"metadata.`mlflow.trace.user` = '{app.user}'",
    ):
        assert app.search(filter_string) == app.trace_ids, filter_string
    assert app.search(run_id=app.result["run_id"]) == {f"tr-{app.result['inside']}"}
    for trace_id in app.trace_ids:
        info = app.client().get_trace(trace_id).info
        assert QUESTION in info.request_preview and LAST_ANSWER in info.response_preview


def test_without_credentials_mlflows_own_client_is_refused_too(alice_app, clean_env):
    """The server really is protected: the traces above needed the credentials."""
    with pytest.raises(Exception, match=r"401|not authenticated"):
        MlflowClient(alice_app.tracking_uri).search_traces(locations=[alice_app.experiment_id])


# --- basic-auth: failures ----------------------------------------------------------------------


def test_a_wrong_password_names_the_variables_and_never_the_password(auth_server):
    error = refusal(basic(auth_server, (ALICE[0], "not-her-password")))
    assert error.variable == "MLFLOW_TRACKING_USERNAME"
    message = str(error)
    assert message.startswith("MLFLOW_TRACKING_USERNAME='alice': ")
    assert "refused this user's credentials (HTTP 401)" in message
    assert "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in message
    assert "not-her-password" not in message


def test_no_credentials_says_which_variables_to_set(auth_server):
    message = str(refusal(MlflowSettings(auth_server.uri)))
    assert message.startswith(f"MLFLOW_TRACKING_URI='{auth_server.uri}': ")
    assert "the server requires credentials" in message and "(HTTP 401)" in message
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in message
    assert "MLFLOW_TRACKING_TOKEN" in message


def test_a_user_without_a_password_names_the_missing_one(auth_server):
    error = refusal(MlflowSettings(auth_server.uri, username=ALICE[0]))
    assert error.variable == "MLFLOW_TRACKING_PASSWORD"
    assert "MLFLOW_TRACKING_USERNAME='alice' went without it" in str(error)


def test_a_reader_may_not_write_traces_and_is_told_at_configure(auth_server, alice_experiment):
    """bob can read alice's experiment (default permission READ) but not write traces to it:
    the server would refuse every export; the bridge finds out before the app runs."""
    error = refusal(basic(auth_server, BOB, experiment_name=alice_experiment))
    message = str(error)
    assert message.startswith("MLFLOW_TRACKING_USERNAME='bob': this user may not write traces")
    assert "(HTTP 403)" in message and "EDIT" in message
    assert BOB[1] not in message


def test_configure_reports_and_run_stops_on_wrong_credentials(auth_server, tmp_path):
    """configure() asks the server nothing (it must return at once): the MLflow destination's
    own thread finds the refusal, says it once naming the variable, and keeps the spans."""
    env = base_env(
        MLFLOW_TRACKING_URI=auth_server.uri,
        MLFLOW_TRACKING_USERNAME=ALICE[0],
        MLFLOW_TRACKING_PASSWORD="wrong-password-value",
        OTEL_SERVICE_NAME=f"wrong-password-{uuid.uuid4().hex[:6]}",
    )
    run = run_app(ONE_SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    [line] = [x for x in run.stderr.splitlines() if "refused the spans" in x]
    assert line.startswith(
        "otel-bridge: mlflow refused the spans: MLFLOW_TRACKING_USERNAME='alice'"
    )
    assert "refused this user's credentials (HTTP 401)" in line
    assert "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in line
    assert "wait in the spool" in line
    stats = run.result["stats"]["mlflow"]
    assert stats["exported"] == 0 and stats["dropped"] == 0
    assert stats["spooled"] == stats["refused"] == 1  # kept, not lost

    run = run_app(ONE_SPAN_APP, tmp_path, env)
    stopped_or_reported(
        run,
        "MLFLOW_TRACKING_USERNAME='alice': "
        f"{auth_server.uri} refused this user's credentials (HTTP 401)",
    )
    assert "wrong-password-value" not in run.stderr + run.stdout


def doctor(capsys) -> tuple[int, str]:
    code = main(["doctor"])
    out, err = capsys.readouterr()
    return code, out + err


def checked_line(out: str) -> str:
    """The MLflow line under "checks:"."""
    checks = out.split("\nchecks:\n", 1)[1]
    [line] = [x.strip() for x in checks.splitlines() if x.strip().startswith("MLflow:")]
    return line


def test_doctor_checks_the_credentials(auth_server, alice_experiment, clean_env, capsys):
    clean_env.setenv("MLFLOW_TRACKING_URI", auth_server.uri)
    clean_env.setenv("MLFLOW_EXPERIMENT_NAME", alice_experiment)
    clean_env.setenv("MLFLOW_TRACKING_USERNAME", ALICE[0])
    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", ALICE[1])
    code, out = doctor(capsys)
    assert code == 0, out
    assert "auth: basic, user 'alice', password ***" in out
    assert ALICE[1] not in out

    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password-value")
    code, out = doctor(capsys)
    assert code == 1, out
    line = checked_line(out)
    assert line.startswith("MLflow: MLFLOW_TRACKING_USERNAME='alice': ") and "HTTP 401" in line
    assert "wrong-password-value" not in out

    clean_env.setenv("MLFLOW_TRACKING_USERNAME", BOB[0])
    clean_env.setenv("MLFLOW_TRACKING_PASSWORD", BOB[1])
    code, out = doctor(capsys)
    assert code == 1, out
    assert checked_line(out).startswith(
        "MLflow: MLFLOW_TRACKING_USERNAME='bob': this user may not write traces"
    )


def test_credentials_revoked_after_start_fail_the_export_loudly(
    auth_server, alice_experiment, caplog
):
    """After configure() the server can still change its mind (password rotated): every
    refused batch is a failed export, counted by the pipeline, with a warning naming the
    HTTP status, never a silent success."""
    user = (f"carol-{uuid.uuid4().hex[:6]}", "carol-password-71ae03")
    requests.post(
        f"{auth_server.uri}/api/2.0/mlflow/users/create",
        json={"username": user[0], "password": user[1]},
        auth=ADMIN,
        timeout=30,
    ).raise_for_status()
    exporter = MlflowSpanExporter(
        basic(auth_server, user, experiment_name=f"carol-{uuid.uuid4().hex[:8]}")
    )
    assert exporter.export(llm_trace("carol-before")) is SpanExportResult.SUCCESS
    requests.patch(
        f"{auth_server.uri}/api/2.0/mlflow/users/update-password",
        json={"username": user[0], "password": "rotated-password-0000"},
        auth=ADMIN,
        timeout=30,
    ).raise_for_status()
    with caplog.at_level(logging.WARNING, logger="otel_bridge"):
        assert exporter.export(llm_trace("carol-after")) is SpanExportResult.FAILURE
    assert any("HTTP 401" in r.getMessage() for r in caplog.records), caplog.text
    exporter.shutdown()


# --- a token-protected server ------------------------------------------------------------------


def test_a_token_protected_server_gets_the_traces(token_proxy, clean_env):
    name = f"token-{uuid.uuid4().hex[:8]}"
    exporter = MlflowSpanExporter(
        MlflowSettings(token_proxy.uri, experiment_name=name, token=TOKEN)
    )
    spans = llm_trace(f"svc-{name}")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    clean_env.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)  # MLflow's client, through the gateway
    client = MlflowClient(token_proxy.uri)
    [trace] = wait_for_traces(
        client,
        exporter.experiment_id,
        spans=len(spans),
        filter_string=f"tag.`service.name` = 'svc-{name}'",
    )
    assert trace.info.trace_id == f"tr-{spans[0].context.trace_id:032x}"
    assert QUESTION in trace.info.request_preview
    assert token_proxy.forwarded >= 4  # experiment look-up, create, write check, spans


def test_a_wrong_token_is_named_and_never_shown(token_proxy):
    refused_before = token_proxy.refused
    error = refusal(MlflowSettings(token_proxy.uri, token="tok-wrong-1234"))
    assert str(error).startswith("MLFLOW_TRACKING_TOKEN='***': ")
    assert "refused this token's credentials (HTTP 401)" in str(error)
    assert "check MLFLOW_TRACKING_TOKEN" in str(error)
    assert "tok-wrong-1234" not in str(error)
    assert token_proxy.refused == refused_before + 1  # stopped at the first request

    message = str(refusal(MlflowSettings(token_proxy.uri)))
    assert "requires credentials" in message and "MLFLOW_TRACKING_TOKEN" in message


def test_doctor_names_a_refused_token(token_proxy, clean_env, capsys):
    clean_env.setenv("MLFLOW_TRACKING_URI", token_proxy.uri)
    clean_env.setenv("MLFLOW_TRACKING_TOKEN", "tok-wrong-1234")
    code, out = doctor(capsys)
    assert code == 1, out
    line = checked_line(out)  # the gateway guards /health too: doctor's own check says it
    assert "refused the credentials (HTTP 401)" in line and "MLFLOW_TRACKING_TOKEN" in line
    assert "tok-wrong-1234" not in out


# --- Databricks --------------------------------------------------------------------------------


def test_databricks_is_refused_at_configure_naming_what_is_not_read():
    secret = "dapi0123456789abcdef"
    env = {
        "MLFLOW_TRACKING_URI": "databricks",
        "DATABRICKS_HOST": "https://adb-1234.azuredatabricks.net",
        "DATABRICKS_TOKEN": secret,
        "MLFLOW_EXPERIMENT_ID": "1234",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith("MLFLOW_TRACKING_URI='databricks': Databricks workspaces are not")
    assert "DATABRICKS_HOST and DATABRICKS_TOKEN are not read" in message
    assert secret not in message
    with pytest.raises(ConfigError, match="Databricks") as profile:
        load_settings({"MLFLOW_TRACKING_URI": "databricks://my-profile"})
    assert json.dumps(str(profile.value))  # one plain line
