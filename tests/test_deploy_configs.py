"""Structural checks of docker-compose.yml, collector-config/ and the deployment docs.

No Docker and no collector binary run here: these tests parse the files and check that names,
ports and endpoints agree with each other, with ``otel_bridge.config`` and with the installed
MLflow server. (Where Docker exists, ``otelcol-contrib validate`` is the complete check; see
collector-config/README.md.)
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
COLLECTOR_DIR = REPO / "collector-config"
COLLECTOR_CONFIGS = ("agent.yaml", "gateway.yaml", "loadbalancer.yaml")
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"
README = REPO / "README.md"

# Values that must agree between the deploy files and the library's defaults.
EXPECTED = {
    "mlflow_experiment_header": "x-mlflow-experiment-id",
    "mlflow_port": 5000,
    "otlp_grpc_port": 4317,
    "otlp_http_port": 4318,
    "traces_path": "/v1/traces",
    "metrics_path": "/v1/metrics",
}
PROMETHEUS_SERVICE = "prometheus"
PROMETHEUS_PORT = 9090
PROMETHEUS_CONFIG = COLLECTOR_DIR / "prometheus.yml"
PULL_EXPORTERS = {"prometheus"}  # scraped, so nothing to retry or queue
JAEGER_UI_PORT = 16686
ZIPKIN_PORT = 9411
COLLECTOR_SERVICE = "otel-collector"
MLFLOW_SERVICE = "mlflow"
POSTGRES_SERVICE = "postgres"

_MISSING = object()


# --- agreement with the library --------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "key"),
    [
        ("MLFLOW_EXPERIMENT_HEADER", "mlflow_experiment_header"),
        ("OTLP_GRPC_PORT", "otlp_grpc_port"),
        ("OTLP_HTTP_PORT", "otlp_http_port"),
        ("OTLP_TRACES_PATH", "traces_path"),
        ("OTLP_METRICS_PATH", "metrics_path"),
        ("MLFLOW_PORT", "mlflow_port"),
    ],
)
def test_expected_values_agree_with_library_defaults(attribute: str, key: str) -> None:
    # Imported here, not at module level, so a broken config module fails these cases only.
    config = importlib.import_module("otel_bridge.config")
    value = getattr(config, attribute, _MISSING)
    if value is _MISSING:
        pytest.skip(f"otel_bridge.config defines no {attribute} (yet)")
    assert value == EXPECTED[key], (
        f"otel_bridge.config.{attribute}={value!r}, deploy files use {EXPECTED[key]!r}"
    )


# --- helpers -------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: top level is not a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module", params=COLLECTOR_CONFIGS)
def collector_config(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, _load(COLLECTOR_DIR / request.param)


@pytest.fixture(scope="module")
def agent() -> dict[str, Any]:
    return _load(COLLECTOR_DIR / "agent.yaml")


def _as_list(command: Any) -> list[str]:
    if isinstance(command, str):
        return command.split()
    return [str(part) for part in command]


def _option(args: list[str], name: str) -> str | None:
    """The value of a long option given as `--name value` or `--name=value`."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _published_ports(service: dict[str, Any]) -> dict[int, int]:
    """host port -> container port, for short (`"H:C"`, `"IP:H:C"`) and long port syntax."""
    published: dict[int, int] = {}
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if "published" in entry:
                published[int(entry["published"])] = int(entry["target"])
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            published[int(parts[-2])] = int(parts[-1])
    return published


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, container path) of every volume entry, short or long syntax."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            parts = str(entry).split(":")
            mounts.append((parts[0], parts[1]))
    return mounts


def _pipeline_components(config: dict[str, Any]):
    for pipeline_name, pipeline in config["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                yield pipeline_name, section, component


def _exporter_urls(config: dict[str, Any]) -> dict[str, str]:
    urls = {}
    for name, exporter in config["exporters"].items():
        if name.split("/")[0] in PULL_EXPORTERS:
            continue  # where it listens, not where it sends
        exporter = exporter or {}
        url = exporter.get("traces_endpoint") or exporter.get("endpoint")
        if url:
            urls[name] = url if "://" in url else f"grpc://{url}"
    return urls


def _mlflow_exporter(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    matches = [
        (name, exporter)
        for name, exporter in config["exporters"].items()
        if name.split("/")[0] in ("otlp_http", "otlphttp") and "mlflow" in name
    ]
    assert len(matches) == 1, f"expected one OTLP/HTTP exporter for MLflow, found {matches}"
    return matches[0]


def _mlflow_source(relative: str) -> str:
    """Text of a file of the installed MLflow, read without importing MLflow (slow)."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("mlflow is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / relative).read_text(
        encoding="utf-8"
    )


def _host_allowed(allowed: list[str], host: str) -> bool:
    # Same rule as mlflow.server.security_utils.is_allowed_host_header (MLflow 3.17).
    return "*" in allowed or any(
        fnmatch.fnmatch(host, pattern) if "*" in pattern else host == pattern for pattern in allowed
    )


# --- collector configs ---------------------------------------------------------------------


def test_collector_configs_parse_and_have_a_traces_pipeline(collector_config) -> None:
    name, config = collector_config
    for section in ("receivers", "processors", "exporters", "extensions", "service"):
        assert section in config, f"{name}: no {section} section"
    assert "traces" in config["service"]["pipelines"], f"{name}: no traces pipeline"


def test_every_pipeline_component_is_defined(collector_config) -> None:
    name, config = collector_config
    for pipeline, section, component in _pipeline_components(config):
        assert component in (config.get(section) or {}), (
            f"{name}: pipeline {pipeline} uses {section[:-1]} {component!r}, "
            f"which the {section} section does not define"
        )


def test_every_defined_component_is_used(collector_config) -> None:
    name, config = collector_config
    used = {(section, component) for _, section, component in _pipeline_components(config)}
    for section in ("receivers", "processors", "exporters"):
        for component in config.get(section) or {}:
            assert (section, component) in used, f"{name}: {section[:-1]} {component!r} is unused"
    enabled = set(config["service"].get("extensions", []))
    for extension in config.get("extensions") or {}:
        assert extension in enabled, f"{name}: extension {extension!r} not in service.extensions"


def test_enabled_extensions_are_defined(collector_config) -> None:
    name, config = collector_config
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"], f"{name}: {extension!r} enabled but not defined"


def test_memory_limiter_is_first_processor_of_every_pipeline(collector_config) -> None:
    name, config = collector_config
    for pipeline_name, pipeline in config["service"]["pipelines"].items():
        processors = pipeline.get("processors", [])
        assert processors, f"{name}: pipeline {pipeline_name} has no processors"
        assert processors[0].split("/")[0] == "memory_limiter", (
            f"{name}: pipeline {pipeline_name} starts with {processors[0]!r}"
        )
        limiter = config["processors"][processors[0]]
        assert limiter.get("check_interval"), f"{name}: memory_limiter needs a check_interval"
        assert limiter.get("limit_mib") or limiter.get("limit_percentage"), (
            f"{name}: memory_limiter needs limit_mib or limit_percentage"
        )


def test_receivers_bind_all_interfaces_on_the_otlp_ports(collector_config) -> None:
    name, config = collector_config
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == f"0.0.0.0:{EXPECTED['otlp_grpc_port']}", name
    assert protocols["http"]["endpoint"] == f"0.0.0.0:{EXPECTED['otlp_http_port']}", name


def test_every_exporter_retries_and_queues_persistently(collector_config) -> None:
    name, config = collector_config
    enabled = set(config["service"]["extensions"])
    for exporter_name, exporter in config["exporters"].items():
        if exporter_name.split("/")[0] in PULL_EXPORTERS:
            continue
        assert exporter["retry_on_failure"]["enabled"] is True, f"{name}: {exporter_name}"
        queue = exporter["sending_queue"]
        assert queue.get("enabled", True) is True, f"{name}: {exporter_name} queue disabled"
        storage = queue.get("storage")
        assert storage, f"{name}: {exporter_name} has no persistent queue (sending_queue.storage)"
        assert storage.split("/")[0] == "file_storage", f"{name}: {exporter_name} uses {storage}"
        assert storage in config["extensions"], f"{name}: {storage} is not defined"
        assert storage in enabled, f"{name}: {storage} is not in service.extensions"
        assert config["extensions"][storage]["directory"].startswith("/"), name


def test_health_check_listens_on_all_interfaces(collector_config) -> None:
    name, config = collector_config
    assert "health_check" in config["service"]["extensions"], name
    assert config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133", name


def test_exporters_use_current_component_names(collector_config) -> None:
    # otlp -> otlp_grpc, otlphttp -> otlp_http (collector v0.144.0), loadbalancing ->
    # load_balancing (contrib PR #48533): the old names still load but are deprecated aliases.
    name, config = collector_config
    deprecated = {"otlp", "otlphttp", "loadbalancing"}
    for exporter_name in config["exporters"]:
        assert exporter_name.split("/")[0] not in deprecated, f"{name}: {exporter_name}"


@pytest.mark.parametrize("name", ["agent.yaml", "gateway.yaml"])  # the LB exports to gateways
def test_mlflow_exporter_targets_the_otlp_traces_path_with_the_experiment_header(
    name: str,
) -> None:
    _, exporter = _mlflow_exporter(_load(COLLECTOR_DIR / name))
    url = urlsplit(exporter["traces_endpoint"])
    assert url.path == EXPECTED["traces_path"], name
    assert exporter["traces_endpoint"].endswith(EXPECTED["traces_path"]), name
    assert url.hostname == MLFLOW_SERVICE, name
    assert url.port == EXPECTED["mlflow_port"], name
    headers = {k.lower(): v for k, v in exporter["headers"].items()}
    assert EXPECTED["mlflow_experiment_header"] in headers, name
    assert str(headers[EXPECTED["mlflow_experiment_header"]]).strip(), name
    # MLflow's endpoint accepts protobuf or JSON over HTTP, gzip- or deflate-compressed.
    assert exporter.get("encoding", "proto") in ("proto", "json"), name
    assert exporter.get("compression", "none") in ("gzip", "deflate", "none"), name


def test_mlflow_server_accepts_what_the_exporter_sends(agent) -> None:
    _, exporter = _mlflow_exporter(agent)
    otlp_source = _mlflow_source("tracing/utils/otlp.py")
    header = EXPECTED["mlflow_experiment_header"]
    assert f'MLFLOW_EXPERIMENT_ID_HEADER = "{header}"' in otlp_source
    assert f'OTLP_TRACES_PATH = "{EXPECTED["traces_path"]}"' in otlp_source
    compression = exporter.get("compression", "none")
    if compression != "none":
        body = otlp_source[otlp_source.index("def decompress_otlp_body") :]
        assert f'case "{compression}"' in body, f"MLflow cannot decompress {compression}"


def test_gateway_exports_like_the_agent(agent) -> None:
    gateway = _load(COLLECTOR_DIR / "gateway.yaml")
    assert gateway["exporters"] == agent["exporters"]
    assert (
        gateway["service"]["pipelines"]["traces"]["exporters"]
        == agent["service"]["pipelines"]["traces"]["exporters"]
    )
    assert gateway["receivers"] == agent["receivers"]


def test_load_balancer_routes_by_trace_id_to_the_gateway_service() -> None:
    config = _load(COLLECTOR_DIR / "loadbalancer.yaml")
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    assert [e.split("/")[0] for e in exporters] == ["load_balancing"]
    lb = config["exporters"][exporters[0]]
    assert lb["routing_key"] == "traceID"
    dns = lb["resolver"]["dns"]
    assert dns["hostname"] == "otel-gateway"
    assert int(dns["port"]) == EXPECTED["otlp_grpc_port"]
    assert "static" not in lb["resolver"], "use one resolver: the static list stays a comment"
    assert "otel-gateway-1:4317" in (COLLECTOR_DIR / "loadbalancer.yaml").read_text()
    assert lb["protocol"]["otlp"]["tls"]["insecure"] is True
    assert "endpoint" not in lb["protocol"]["otlp"], "the load balancer sets each endpoint"


def test_collector_readme_explains_the_topology() -> None:
    text = (COLLECTOR_DIR / "README.md").read_text(encoding="utf-8")
    for config in COLLECTOR_CONFIGS:
        assert config in text
    for phrase in ("trace id", "tail sampling", "otel-gateway"):
        assert phrase in text.lower(), phrase


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_has_the_stack(services) -> None:
    for name in ("jaeger", "zipkin", COLLECTOR_SERVICE, MLFLOW_SERVICE, POSTGRES_SERVICE, "demo"):
        assert name in services, f"docker-compose.yml has no {name} service"


def test_images_are_pinned(services) -> None:
    for name, service in services.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"{name}: image {image!r} is not pinned"
    assert services["jaeger"]["image"].startswith("jaegertracing/jaeger:2.")
    assert services["zipkin"]["image"].startswith("openzipkin/zipkin:")
    assert services[COLLECTOR_SERVICE]["image"].startswith("otel/opentelemetry-collector-contrib:")


def test_collector_config_names_only_compose_services(agent, services) -> None:
    hosts = {urlsplit(url).hostname for url in _exporter_urls(agent).values()}
    assert {"jaeger", "zipkin", MLFLOW_SERVICE} <= hosts
    for host in hosts:
        assert host in services, f"agent.yaml exports to {host!r}, not a compose service"


def test_collector_mounts_the_config_it_is_told_to_use(services) -> None:
    collector = services[COLLECTOR_SERVICE]
    config_path = _option(_as_list(collector["command"]), "--config")
    assert config_path, "the collector's command names no --config"
    host_file = None
    for source, target in _volume_mounts(collector):
        if not source.startswith("."):
            continue
        if config_path == target:
            host_file = REPO / source
        elif config_path.startswith(target.rstrip("/") + "/"):
            host_file = REPO / source / config_path[len(target.rstrip("/")) + 1 :]
    assert host_file is not None, f"{config_path} is not mounted from the repository"
    assert host_file.resolve() == (COLLECTOR_DIR / "agent.yaml").resolve()
    assert host_file.is_file()


def test_collector_queue_directory_is_a_named_volume_it_can_write(compose, services, agent) -> None:
    collector = services[COLLECTOR_SERVICE]
    directory = agent["extensions"]["file_storage/queue"]["directory"]
    volume = {target: source for source, target in _volume_mounts(collector)}.get(directory)
    assert volume, f"{directory} is not a volume: the queue would not survive the container"
    assert volume in (compose.get("volumes") or {}), f"{volume} is not a declared named volume"
    # The collector image runs as uid 10001; a one-shot service hands the volume over first.
    init = next(
        name
        for name, condition in _depends_on(collector).items()
        if condition == "service_completed_successfully"
    )
    assert (volume, directory) in _volume_mounts(services[init])
    assert "10001" in " ".join(_as_list(services[init]["command"]))


def test_collector_environment_feeds_the_config(agent, services) -> None:
    env = _environment(services[COLLECTOR_SERVICE])
    text = (COLLECTOR_DIR / "agent.yaml").read_text(encoding="utf-8")
    for variable, default in re.findall(r"\$\{env:([A-Za-z0-9_]+)(:-[^}]*)?\}", text):
        assert variable in env or default, f"agent.yaml reads {variable}, compose never sets it"
    assert "MLFLOW_EXPERIMENT_ID" in env


def test_published_ports(services) -> None:
    by_service = {name: _published_ports(service) for name, service in services.items()}
    all_host_ports = [port for ports in by_service.values() for port in ports]
    assert len(all_host_ports) == len(set(all_host_ports)), "two services publish one host port"
    assert by_service["jaeger"].get(JAEGER_UI_PORT) == JAEGER_UI_PORT
    assert by_service["zipkin"].get(ZIPKIN_PORT) == ZIPKIN_PORT
    assert by_service[MLFLOW_SERVICE].get(EXPECTED["mlflow_port"]) == EXPECTED["mlflow_port"]
    collector = by_service[COLLECTOR_SERVICE]
    assert collector.get(EXPECTED["otlp_grpc_port"]) == EXPECTED["otlp_grpc_port"]
    assert collector.get(EXPECTED["otlp_http_port"]) == EXPECTED["otlp_http_port"]
    # Jaeger's own OTLP ports stay inside the compose network (they would clash).
    assert EXPECTED["otlp_grpc_port"] not in by_service["jaeger"]
    assert EXPECTED["otlp_http_port"] not in by_service["jaeger"]


def test_collector_ports_match_its_receivers(agent, services) -> None:
    published = set(_published_ports(services[COLLECTOR_SERVICE]).values())
    for protocol in agent["receivers"]["otlp"]["protocols"].values():
        assert int(protocol["endpoint"].rsplit(":", 1)[1]) in published


def test_mlflow_server_admits_its_service_name(services) -> None:
    args = _as_list(services[MLFLOW_SERVICE]["command"])
    assert args[:2] == ["mlflow", "server"]
    raw = _option(args, "--allowed-hosts") or _environment(services[MLFLOW_SERVICE]).get(
        "MLFLOW_SERVER_ALLOWED_HOSTS"
    )
    assert raw, "MLflow >= 3.5 rejects Host: mlflow:5000 without --allowed-hosts"
    allowed = [host.strip() for host in raw.split(",")]  # as MLflow splits it
    port = EXPECTED["mlflow_port"]
    # What the collector sends (Host: mlflow:5000) and what a browser on the host sends.
    for host in (
        f"{MLFLOW_SERVICE}:{port}",
        MLFLOW_SERVICE,
        f"localhost:{port}",
        f"127.0.0.1:{port}",
    ):
        assert _host_allowed(allowed, host), f"Host {host!r} would be refused"
    assert "*" not in allowed, "do not disable the Host check"
    assert int(_option(args, "--port") or 5000) == port
    assert _option(args, "--host") == "0.0.0.0"


def test_installed_mlflow_has_the_allowed_hosts_option() -> None:
    source = _mlflow_source("utils/cli_args.py")
    assert '"--allowed-hosts"' in source
    assert 'envvar="MLFLOW_SERVER_ALLOWED_HOSTS"' in source


def test_mlflow_backend_store_is_the_postgres_service(services) -> None:
    args = _as_list(services[MLFLOW_SERVICE]["command"])
    uri = urlsplit(_option(args, "--backend-store-uri") or "")
    assert uri.scheme.startswith("postgresql"), uri.scheme
    assert uri.hostname == POSTGRES_SERVICE
    postgres = _environment(services[POSTGRES_SERVICE])
    assert uri.username == postgres["POSTGRES_USER"]
    assert uri.password == postgres["POSTGRES_PASSWORD"]
    assert uri.path.lstrip("/") == postgres["POSTGRES_DB"]
    assert _depends_on(services[MLFLOW_SERVICE]).get(POSTGRES_SERVICE) == "service_healthy"
    # The driver must be in the image: the -full image ships psycopg2 and psycopg.
    assert services[MLFLOW_SERVICE]["image"].endswith("-full") or "psycopg" in " ".join(args)


def test_depends_on_targets_exist_and_healthy_ones_have_healthchecks(services) -> None:
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
        healthcheck = service.get("healthcheck")
        if healthcheck:
            assert healthcheck.get("test"), name


def test_demo_sends_to_the_collector(services) -> None:
    demo = services["demo"]
    assert "demo" in demo.get("profiles", [])
    assert demo["image"].startswith("python:3.11")
    assert any(target == "/src" and source == "." for source, target in _volume_mounts(demo))
    command = " ".join(_as_list(demo["command"]))
    assert "pip install" in command and "/src" in command and "otel-bridge demo" in command
    env = _environment(demo)
    # the generic endpoint: traces and GenAI metrics both go to the Collector
    endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.hostname == COLLECTOR_SERVICE
    assert endpoint.port == EXPECTED["otlp_grpc_port"]
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    from otel_bridge.config import load_settings

    settings = load_settings({k: v for k, v in env.items() if k.startswith("OTEL_")})
    assert settings.otlp is not None and settings.metrics is not None
    assert urlsplit(settings.otlp.endpoint).hostname == COLLECTOR_SERVICE
    assert urlsplit(settings.metrics.otlp.endpoint).hostname == COLLECTOR_SERVICE
    assert env["OTEL_SERVICE_NAME"] == "otel-bridge-demo"
    mlflow = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert (mlflow.hostname, mlflow.port) == (MLFLOW_SERVICE, EXPECTED["mlflow_port"])
    assert COLLECTOR_SERVICE in _depends_on(demo)


# --- docs ----------------------------------------------------------------------------------

_LOCALHOST_PORT = re.compile(r"(?:localhost|127\.0\.0\.1):(\d+)")
_BACKEND_NAME = re.compile(r"jaeger|zipkin|mlflow", re.IGNORECASE)


def _doc_port_mentions(text: str):
    """(line number, backend, port) for each localhost URL that follows a backend's name.

    The backend is the last one named on the line before the URL (after the previous URL), or
    the only one named on the line; a URL with no backend in reach is not attributed.
    """
    for number, line in enumerate(text.splitlines(), 1):
        names_on_line = {name.lower() for name in _BACKEND_NAME.findall(line)}
        previous_end = 0
        for match in _LOCALHOST_PORT.finditer(line):
            before = _BACKEND_NAME.findall(line[previous_end : match.start()])
            previous_end = match.end()
            if before:
                backend = before[-1].lower()
            elif len(names_on_line) == 1:
                backend = next(iter(names_on_line))
            else:
                continue
            yield number, backend, int(match.group(1))


def _check_doc_ports(path: Path) -> None:
    """A localhost port named next to Jaeger, Zipkin or MLflow must be the compose one."""
    otlp = {EXPECTED["otlp_grpc_port"], EXPECTED["otlp_http_port"]}  # the Collector's, in prose
    allowed = {
        "jaeger": {JAEGER_UI_PORT} | otlp,
        "zipkin": {ZIPKIN_PORT} | otlp,
        "mlflow": {EXPECTED["mlflow_port"]} | otlp,
    }
    for number, backend, port in _doc_port_mentions(path.read_text(encoding="utf-8")):
        assert port in allowed[backend], f"{path.name}:{number}: {backend} on port {port}"


def test_doc_port_check_attributes_ports_to_the_nearest_backend() -> None:
    text = (
        "Jaeger (http://localhost:16686), Zipkin (http://localhost:9411) and MLflow "
        "(http://localhost:5000)\n"
        "open the MLflow UI at http://127.0.0.1:5001\n"
        "the Collector at localhost:4317\n"
    )
    assert list(_doc_port_mentions(text)) == [
        (1, "jaeger", 16686),
        (1, "zipkin", 9411),
        (1, "mlflow", 5000),
        (2, "mlflow", 5001),
    ]


def test_deployment_doc_agrees_with_compose() -> None:
    text = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    for needle in (
        "docker compose up -d",
        "docker compose --profile demo up demo",
        f"http://localhost:{JAEGER_UI_PORT}",
        f"http://localhost:{ZIPKIN_PORT}",
        f"http://localhost:{EXPECTED['mlflow_port']}",
        f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://localhost:{EXPECTED['otlp_grpc_port']}",
    ):
        assert needle in text, needle
    _check_doc_ports(DEPLOYMENT_DOC)


def test_readme_ports_agree_with_compose() -> None:
    if not README.is_file():
        pytest.skip("no README.md yet")
    if "docker compose" not in README.read_text(encoding="utf-8"):
        pytest.skip("README.md does not describe the compose stack")
    _check_doc_ports(README)


# --- metrics: apps -> Collector -> Prometheus ------------------------------------------------


@pytest.mark.parametrize("name", ["agent.yaml", "gateway.yaml"])
def test_collector_has_a_metrics_pipeline_to_a_prometheus_exporter(name: str) -> None:
    config = _load(COLLECTOR_DIR / name)
    pipeline = config["service"]["pipelines"]["metrics"]
    assert pipeline["receivers"] == ["otlp"]  # the same OTLP ports the apps send traces to
    assert pipeline["processors"][0] == "memory_limiter"
    [exporter] = pipeline["exporters"]
    assert exporter.split("/")[0] == "prometheus"
    settings = config["exporters"][exporter]
    assert settings["endpoint"].startswith("0.0.0.0:"), "a scraper outside the container"
    assert settings["resource_to_telemetry_conversion"]["enabled"] is True  # service.name label


def test_prometheus_scrapes_the_collectors_metrics_exporter(agent, services) -> None:
    prometheus = services[PROMETHEUS_SERVICE]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert _published_ports(prometheus).get(PROMETHEUS_PORT) == PROMETHEUS_PORT
    config_path = _option(_as_list(prometheus["command"]), "--config.file")
    mounts = {target: source for source, target in _volume_mounts(prometheus)}
    assert config_path in mounts, f"{config_path} is not mounted"
    assert (REPO / mounts[config_path]).resolve() == PROMETHEUS_CONFIG.resolve()
    scrape = _load(PROMETHEUS_CONFIG)
    targets = [
        target
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    exporter_port = agent["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    assert f"{COLLECTOR_SERVICE}:{exporter_port}" in targets
    assert COLLECTOR_SERVICE in _depends_on(prometheus)
