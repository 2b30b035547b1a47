"""Environment in, validated settings out: the one place the bridge reads configuration.

Everything else receives a :class:`Settings` value and never looks at ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import SplitResult, unquote, urlsplit

from otel_bridge.content_policy import (  # the content switch, re-exported as part of the settings
    CAPTURE_CONTENT_VAR,
    CONTENT_DESTINATIONS_VAR,
    ContentPolicy,
    content_policy_from_env,
    content_policy_of,
    names_of,
)
from otel_bridge.content_policy import comma_list as _comma_list
from otel_bridge.errors import ConfigError as ConfigError
from otel_bridge.redaction import MASK, mask_headers, mask_url

_logger = logging.getLogger(__name__)

# Defaults shared with collector-config/, docker-compose.yml and the README.
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
OTLP_TRACES_PATH = "/v1/traces"
OTLP_METRICS_PATH = "/v1/metrics"
_SIGNAL_PATHS = {"TRACES": OTLP_TRACES_PATH, "METRICS": OTLP_METRICS_PATH}
MLFLOW_PORT = 5000
MLFLOW_EXPERIMENT_HEADER = "x-mlflow-experiment-id"
EMBEDDED_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own default, so `mlflow ui` finds it

Protocol = Literal["grpc", "http/protobuf"]
PROTOCOLS: tuple[str, ...] = ("grpc", "http/protobuf")
COMPRESSIONS: tuple[str, ...] = ("gzip", "deflate", "none")

SHUTDOWN_TIMEOUT_VAR = "OTEL_BRIDGE_SHUTDOWN_TIMEOUT"
MAX_SHUTDOWN_TIMEOUT = 3600.0
MAX_SERVICE_NAME_LENGTH = 500  # MLflow's limit for an experiment name (the default one)
SPOOL_VAR = "OTEL_BRIDGE_SPOOL"
SPOOL_DIR_VAR = "OTEL_BRIDGE_SPOOL_DIR"
SPOOL_MAX_BYTES_VAR = "OTEL_BRIDGE_SPOOL_MAX_BYTES"
DEFAULT_SPOOL_DIR = Path(".otel-bridge") / "spool"  # under the working directory, like mlflow.db
DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024


def _masked_repr(
    obj: Any,
    urls: tuple[str, ...] = (),
    secrets: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
) -> str:
    shown = []
    for item in fields(obj):
        value = getattr(obj, item.name)
        if value and item.name in urls:
            value = mask_url(value)
        elif value and item.name in secrets:
            value = MASK
        elif value and item.name in headers:
            value = mask_headers(value)
        shown.append(f"{item.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


@dataclass(frozen=True)
class OtlpSettings:
    endpoint: str
    protocol: Protocol
    protocol_reason: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str | None = None
    certificate: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure: bool | None = None

    def __repr__(self) -> str:  # printed configuration never shows a header value
        return _masked_repr(self, urls=("endpoint",), headers=("headers",))


@dataclass(frozen=True)
class MlflowSettings:
    tracking_uri: str
    experiment_id: str | None = None
    experiment_name: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    verify: bool | str = True  # False, True or a CA bundle path

    def __repr__(self) -> str:  # nor a token, a password or a URL's userinfo
        return _masked_repr(self, urls=("tracking_uri",), secrets=("token", "password"))

    @property
    def embedded(self) -> bool:
        return not self.tracking_uri.startswith(("http://", "https://"))


@dataclass(frozen=True)
class BatchSettings:
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    schedule_delay_millis: int = 1000
    export_timeout_millis: int = 30000


@dataclass(frozen=True)
class SpoolSettings:
    """Where spans a destination cannot take now wait on disk: ``directory/<service>/<dest>``."""

    enabled: bool = True
    directory: Path = DEFAULT_SPOOL_DIR
    max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    explicit_directory: bool = False  # set by the user: an unusable one is a ConfigError


class Ineffective(NamedTuple):
    """A variable that is set, valid, and changes nothing (the value masked where secret)."""

    variable: str
    value: str
    why: str

    def __str__(self) -> str:
        return f"{self.variable}={self.value} has no effect: {self.why}"


@dataclass(frozen=True)
class MetricsSettings:
    """The GenAI client metrics' OTLP destination and how often they are exported."""

    otlp: OtlpSettings
    interval_millis: int = 60000
    timeout_millis: int = 30000


@dataclass(frozen=True)
class Settings:
    disabled: bool = False
    service_name: str | None = None
    otlp: OtlpSettings | None = None
    mlflow: MlflowSettings | None = None
    console: bool = False
    content: ContentPolicy = field(default_factory=ContentPolicy)
    batch: BatchSettings = BatchSettings()
    shutdown_timeout: float = 5.0
    spool: SpoolSettings = SpoolSettings(enabled=False)
    metrics: MetricsSettings | None = None
    ineffective: tuple[Ineffective, ...] = ()  # set, but without effect: worth a warning


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read and validate every variable the bridge honours.

    ``overrides`` take the place of the variables of the same meaning. Text options stand for
    the variable's text and are validated as it is (``service_name``, ``otlp_endpoint``,
    ``otlp_protocol``, ``mlflow_tracking_uri``, ``mlflow_experiment_name``,
    ``mlflow_experiment_id``, ``spool_dir``); the others are taken as values, never turned into
    text: ``otlp_headers`` (a mapping, kept whole), ``exporters`` and ``content_destinations``
    (lists of names), ``shutdown_timeout`` (seconds), ``disabled`` and ``spool`` (bools),
    ``spool_max_bytes`` (an int). The environment is read once.
    """
    env = dict(os.environ if environ is None else environ)
    unknown = set(overrides) - set(_OVERRIDE_VARS)
    if unknown:
        raise TypeError(f"configure() got unknown option(s): {', '.join(sorted(unknown))}")
    given = {name: value for name, value in overrides.items() if value is not None}
    for name in _TEXT_OPTIONS.intersection(given):
        env[_OVERRIDE_VARS[name]] = _text(name, given.pop(name))

    if "disabled" in given:
        disabled = _flag("disabled", given["disabled"])
    else:
        disabled = _bool(env, "OTEL_SDK_DISABLED", False)
    if disabled:
        return Settings(disabled=True)

    exporters = _exporters(env, given.get("exporters"))
    service_name = _service_name(env)
    # Without OTEL_TRACES_EXPORTER: OTLP when an endpoint is set, MLflow always.
    wanted = {"mlflow"} if exporters is None else exporters
    # Parsed even when OTLP is off: a wrong value is an error wherever it is set.
    otlp = _otlp(env, explicit=exporters is not None and "otlp" in wanted)
    if exporters is not None and "otlp" not in wanted:
        otlp = None
    mlflow = _mlflow(env, service_name) if "mlflow" in wanted else None
    if otlp is not None and "otlp_headers" in given:
        otlp = replace(otlp, headers=_header_mapping("otlp_headers", given["otlp_headers"]))
    if "content_destinations" in given:
        chosen = given["content_destinations"]
        content = content_policy_of(
            names_of("content_destinations", chosen), "content_destinations", chosen
        )
    else:
        content = content_policy_from_env(env)
    if "shutdown_timeout" in given:
        shutdown_timeout = _seconds("shutdown_timeout", given["shutdown_timeout"])
    else:
        shutdown_timeout = _seconds_up_to(env, SHUTDOWN_TIMEOUT_VAR, 5.0, MAX_SHUTDOWN_TIMEOUT)
    settings = Settings(
        service_name=service_name,
        otlp=otlp,
        mlflow=mlflow,
        console=bool(exporters and "console" in exporters),
        content=content,
        batch=_batch(env),
        shutdown_timeout=shutdown_timeout,
        spool=_spool(env, given),
        metrics=_metrics(env),
    )
    return replace(settings, ineffective=ineffective_variables(env, settings))


_OVERRIDE_VARS = {
    "service_name": "OTEL_SERVICE_NAME",
    "otlp_endpoint": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "otlp_protocol": "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "otlp_headers": "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI",
    "mlflow_experiment_name": "MLFLOW_EXPERIMENT_NAME",
    "mlflow_experiment_id": "MLFLOW_EXPERIMENT_ID",
    "exporters": "OTEL_TRACES_EXPORTER",
    "content_destinations": CONTENT_DESTINATIONS_VAR,
    "shutdown_timeout": SHUTDOWN_TIMEOUT_VAR,
    "disabled": "OTEL_SDK_DISABLED",
    "spool": SPOOL_VAR,
    "spool_dir": SPOOL_DIR_VAR,
    "spool_max_bytes": SPOOL_MAX_BYTES_VAR,
}


# The options whose value is the variable's own text.
_TEXT_OPTIONS = frozenset(
    {
        "service_name",
        "otlp_endpoint",
        "otlp_protocol",
        "mlflow_tracking_uri",
        "mlflow_experiment_name",
        "mlflow_experiment_id",
        "spool_dir",
    }
)


def _text(option: str, value: object) -> str:
    if isinstance(value, (str, int, os.PathLike)) and not isinstance(value, bool):
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    raise ConfigError(option, value, "expected text")


def _flag(option: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(option, value, "expected True or False")


def _seconds(option: str, value: object) -> float:
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0 < value <= MAX_SHUTDOWN_TIMEOUT
    ):
        return float(value)
    raise ConfigError(
        option,
        value,
        f"expected a number of seconds greater than 0, at most {MAX_SHUTDOWN_TIMEOUT:g}",
    )


def _header_mapping(option: str, value: object) -> dict[str, str]:
    """Header names to values, as given: a value is kept whole (commas, ``=``, ``%``)."""
    if not isinstance(value, Mapping):
        raise ConfigError(option, value, "expected a mapping of header names to values")
    headers: dict[str, str] = {}
    for key, item in value.items():
        name = key.strip().lower() if isinstance(key, str) else ""
        if not _is_header_name(name) or not isinstance(item, str):
            shown = sorted(str(k) for k in value)  # the names only: a value may be a secret
            raise ConfigError(option, shown, f"bad header {str(key)!r}: a name and a text value")
        headers[name] = item
    return headers


# --- OTLP -----------------------------------------------------------------------------


def _metrics(env: Mapping[str, str]) -> MetricsSettings | None:
    """``OTEL_METRICS_EXPORTER``: ``otlp`` (the default when an OTLP endpoint for metrics is set:
    ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``) or ``none``."""
    raw = env.get("OTEL_METRICS_EXPORTER", "").strip()
    names = _comma_list(raw) if raw else set()
    unknown = names - {"otlp", "none"}
    if unknown:
        raise ConfigError(
            "OTEL_METRICS_EXPORTER",
            raw,
            f"unknown exporter {sorted(unknown)[0]!r}; use otlp or none (for Prometheus, "
            "send OTLP to a Collector with a prometheus exporter: collector-config/)",
        )
    if names == {"none"}:
        return None
    otlp = _otlp(env, explicit="otlp" in names, kind="METRICS")
    if otlp is None:
        return None
    return MetricsSettings(
        otlp=otlp,
        interval_millis=_positive_int(env, "OTEL_METRIC_EXPORT_INTERVAL", 60000),
        timeout_millis=_positive_int(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30000),
    )


def _otlp(env: Mapping[str, str], *, explicit: bool, kind: str = "TRACES") -> OtlpSettings | None:
    """The OTLP settings of signal ``kind`` (``TRACES`` or ``METRICS``): its own variables
    (``OTEL_EXPORTER_OTLP_<SIGNAL>_*``) first, then the generic ones."""
    signal_var, generic_var = f"OTEL_EXPORTER_OTLP_{kind}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
    signal = env.get(signal_var, "").strip()
    generic = env.get(generic_var, "").strip()
    protocol_var, protocol_value = _first_set(
        env, f"OTEL_EXPORTER_OTLP_{kind}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    if protocol_value and protocol_value not in PROTOCOLS:
        hint = (
            " (http/json is not supported; use http/protobuf)"
            if protocol_value == "http/json"
            else ""
        )
        raise ConfigError(
            protocol_var, protocol_value, f"unknown protocol; use 'grpc' or 'http/protobuf'{hint}"
        )
    if signal:
        url_var, url = signal_var, signal
    elif generic:
        url_var, url = generic_var, generic
    else:
        url_var, url = "", ""
    if url:
        _check_url(url_var, url)
    if protocol_value:
        protocol: Protocol = protocol_value  # type: ignore[assignment]
        reason = f"{protocol_var}={protocol_value}"
    else:
        protocol, reason = _infer_protocol(url, _SIGNAL_PATHS[kind])
    endpoint = _otlp_endpoint(url, protocol, generic=url_var == generic_var, signal=kind)
    headers = _headers(env, kind)
    otlp = OtlpSettings(
        endpoint=endpoint,
        protocol=protocol,
        protocol_reason=reason,
        headers=headers,
        timeout=_positive_float_pair(
            env, f"OTEL_EXPORTER_OTLP_{kind}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", 10.0
        ),
        compression=_compression(env, kind),
        certificate=_file_pair(env, "CERTIFICATE", kind),
        client_certificate=_file_pair(env, "CLIENT_CERTIFICATE", kind),
        client_key=_file_pair(env, "CLIENT_KEY", kind),
        insecure=_optional_bool_pair(
            env, f"OTEL_EXPORTER_OTLP_{kind}_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"
        ),
    )
    if not url and not explicit:
        _logger.info(
            "otel-bridge: no OTLP destination (%s and %s are unset)", signal_var, generic_var
        )
        return None
    return otlp


def _split_url(var: str, url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as error:  # e.g. "Invalid IPv6 URL"
        raise ConfigError(var, url, f"not a valid URL ({error})") from None


def _check_url(var: str, url: str) -> None:
    parts = _split_url(var, url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            var,
            url,
            "needs a scheme and a host, e.g. http://localhost:4317 (gRPC) or "
            "http://localhost:4318/v1/traces (HTTP)",
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(var, url, "the port is not a number in 1-65535") from None
    # https without a port means 443 (hosted backends); plain http without one is a slip.
    if port is None and parts.scheme == "http":
        raise ConfigError(var, url, "needs a port, e.g. :4317 for OTLP/gRPC or :4318 for OTLP/HTTP")


def _infer_protocol(url: str, path: str = OTLP_TRACES_PATH) -> tuple[Protocol, str]:
    if not url:
        return "grpc", "no endpoint set; the OTLP default is gRPC on localhost:4317"
    parts = urlsplit(url)
    if parts.port == OTLP_GRPC_PORT:
        return "grpc", f"port {OTLP_GRPC_PORT} is the OTLP/gRPC port"
    if parts.port == OTLP_HTTP_PORT:
        return "http/protobuf", f"port {OTLP_HTTP_PORT} is the OTLP/HTTP port"
    if parts.path.rstrip("/").endswith(path):
        return "http/protobuf", f"the path ends in {path}"
    return "grpc", "no protocol variable, port or path says otherwise"


def _otlp_endpoint(url: str, protocol: Protocol, *, generic: bool, signal: str = "TRACES") -> str:
    path = _SIGNAL_PATHS[signal]
    if protocol == "grpc":
        if not url:
            return f"http://localhost:{OTLP_GRPC_PORT}"
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"  # gRPC has no path
    if not url:
        return f"http://localhost:{OTLP_HTTP_PORT}{path}"
    if generic:
        return url.rstrip("/") + path
    return url


def _headers(env: Mapping[str, str], signal: str = "TRACES") -> dict[str, str]:
    var, raw = _first_set(env, f"OTEL_EXPORTER_OTLP_{signal}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    return parse_headers(var, raw) if raw else {}


def parse_headers(var: str, raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with URL-encoded values, as the OTLP exporter spec says."""
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = unquote(key).strip().lower()
        if not sep or not _is_header_name(key):
            raise ConfigError(
                var,
                mask_header_list(raw),
                f"malformed entry {_masked_entry(item)!r}; "
                "expected a comma list of key=value (values URL-encoded)",
            )
        headers[key] = unquote(value).strip()
    return headers


def _is_header_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in ' \t"(),/:;<=>?@[\\]{}')


def _masked_entry(item: str) -> str:
    key, sep, _ = item.partition("=")
    if sep:
        return f"{key.strip()}=***"
    # no "=": "Authorization: Bearer <token>" written as an HTTP header; its first word only
    name, *rest = re.split(r"[:\s]", item.strip(), maxsplit=1)
    if rest:
        return f"{name[:40]}: ***"
    # a bare word: a header name without its value, or the token itself (which has digits)
    return name if re.fullmatch(r"[A-Za-z][A-Za-z_-]{0,39}", name) else "***"


def mask_header_list(raw: str) -> str:
    return ",".join(_masked_entry(item) for item in raw.split(","))


def _compression(env: Mapping[str, str], signal: str = "TRACES") -> str | None:
    var, value = _first_set(
        env, f"OTEL_EXPORTER_OTLP_{signal}_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"
    )
    if not value:
        return None
    if value.lower() not in COMPRESSIONS:
        raise ConfigError(var, value, "use gzip, deflate or none")
    return None if value.lower() == "none" else value.lower()


def _file_pair(env: Mapping[str, str], suffix: str, signal: str = "TRACES") -> str | None:
    var, value = _first_set(
        env, f"OTEL_EXPORTER_OTLP_{signal}_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"
    )
    if not value:
        return None
    if not Path(value).is_file():
        raise ConfigError(var, value, "no such file")
    return value


# --- MLflow ---------------------------------------------------------------------------


def _mlflow(env: Mapping[str, str], service_name: str | None) -> MlflowSettings:
    var = "MLFLOW_TRACKING_URI"
    uri = env.get(var, "").strip() or EMBEDDED_TRACKING_URI
    scheme = _split_url(var, uri).scheme
    if scheme in ("http", "https"):
        _check_url_host(var, uri)
    elif scheme == "databricks" or uri == "databricks":
        raise ConfigError(
            var,
            uri,
            "Databricks workspaces are not supported by otel-bridge yet (DATABRICKS_HOST and "
            "DATABRICKS_TOKEN are not read); send the traces through an OpenTelemetry "
            "Collector, or use an MLflow server URL (http://...)",
        )
    elif not scheme.startswith(("sqlite", "postgresql", "mysql", "mssql")):
        raise ConfigError(
            var,
            uri,
            "use an MLflow server URL (http://host:5000) or a SQL store such as "
            "sqlite:///mlflow.db (the file store ./mlruns cannot hold OpenTelemetry traces)",
        )
    experiment_id = env.get("MLFLOW_EXPERIMENT_ID", "").strip() or None
    experiment_name = env.get("MLFLOW_EXPERIMENT_NAME", "").strip() or None
    if experiment_id is not None and not experiment_id.isdigit():
        raise ConfigError("MLFLOW_EXPERIMENT_ID", experiment_id, "an experiment id is a number")
    if experiment_id is None and experiment_name is None:
        experiment_name = service_name  # None: MLflow's Default experiment
    return MlflowSettings(
        tracking_uri=uri.rstrip("/") if scheme in ("http", "https") else uri,
        experiment_id=experiment_id,
        experiment_name=experiment_name,
        token=env.get("MLFLOW_TRACKING_TOKEN") or None,
        username=env.get("MLFLOW_TRACKING_USERNAME") or None,
        password=env.get("MLFLOW_TRACKING_PASSWORD") or None,
        verify=_mlflow_verify(env),
    )


def _check_url_host(var: str, url: str) -> None:
    parts = _split_url(var, url)
    if not parts.hostname:
        raise ConfigError(var, url, "the URL has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(var, url, "the port is not a number in 1-65535") from None


def _mlflow_verify(env: Mapping[str, str]) -> bool | str:
    if _bool(env, "MLFLOW_TRACKING_INSECURE_TLS", False):
        return False
    cert = env.get("MLFLOW_TRACKING_SERVER_CERT_PATH", "").strip()
    if cert:
        if not Path(cert).is_file():
            raise ConfigError("MLFLOW_TRACKING_SERVER_CERT_PATH", cert, "no such file")
        return cert
    return True


# --- spool ----------------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2}
_SIZE_UNITS.update({"mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3})


def _spool(env: Mapping[str, str], given: Mapping[str, Any]) -> SpoolSettings:
    enabled = _flag("spool", given["spool"]) if "spool" in given else _bool(env, SPOOL_VAR, True)
    raw_dir = env.get(SPOOL_DIR_VAR, "").strip()
    try:
        directory = Path(raw_dir).expanduser() if raw_dir else DEFAULT_SPOOL_DIR
    except RuntimeError:  # "~user" with no such user
        raise ConfigError(SPOOL_DIR_VAR, raw_dir, "cannot expand ~ (no such user)") from None
    if "spool_max_bytes" in given:
        max_bytes = _byte_count("spool_max_bytes", given["spool_max_bytes"])
    else:
        max_bytes = _byte_size(env, SPOOL_MAX_BYTES_VAR, DEFAULT_SPOOL_MAX_BYTES)
    if enabled and raw_dir:
        _check_spool_dir(raw_dir, directory)
    return SpoolSettings(
        enabled=enabled,
        directory=directory.absolute(),
        max_bytes=max_bytes,
        explicit_directory=bool(raw_dir),
    )


def _check_spool_dir(raw: str, directory: Path) -> None:
    """The directory, or its nearest existing parent, must be a writable directory."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(SPOOL_DIR_VAR, raw, f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(SPOOL_DIR_VAR, raw, f"{existing} is not writable")


def _byte_count(option: str, value: object) -> int:
    if isinstance(value, str):
        return _byte_size({option: value}, option, DEFAULT_SPOOL_MAX_BYTES)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1024:
        return value
    raise ConfigError(option, value, "expected a number of bytes, at least 1024")


def _byte_size(env: Mapping[str, str], var: str, default: int) -> int:
    value = env.get(var, "").strip()
    if not value:
        return default
    number, unit = value, ""
    for i, char in enumerate(value):
        if not (char.isdigit() or char == "."):
            number, unit = value[:i].strip(), value[i:].strip().lower()
            break
    try:
        size = int(float(number) * _SIZE_UNITS[unit])
    except (ValueError, KeyError, OverflowError):
        raise ConfigError(var, value, "expected a size in bytes, e.g. 67108864 or 64MiB") from None
    if size < 1024:
        raise ConfigError(var, value, "must be at least 1KiB")
    return size


# --- variables set without effect -----------------------------------------------------

_OTLP_OPTIONS = tuple(
    f"OTEL_EXPORTER_OTLP_{signal}{option}"
    for option in (
        "PROTOCOL",
        "HEADERS",
        "TIMEOUT",
        "COMPRESSION",
        "CERTIFICATE",
        "CLIENT_CERTIFICATE",
        "CLIENT_KEY",
        "INSECURE",
    )
    for signal in ("TRACES_", "")
)
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_MLFLOW_AUTH = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_MLFLOW_TLS = ("MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH")
_MLFLOW_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
_SECRET_VARS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")
_NO_OTLP_ENDPOINT = (
    "no OTLP destination (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT "
    "are unset)"
)
_EMBEDDED_NEEDS_NO_AUTH = "the embedded store (no MLflow server) takes no credentials or TLS"


def ineffective_variables(env: Mapping[str, str], settings: Settings) -> tuple[Ineffective, ...]:
    """The variables that are set (and valid) but change nothing the bridge does, each with why:
    a forgotten or misplaced setting is otherwise silent. Values are masked as in the doctor."""
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip()
    left_out = f"OTEL_TRACES_EXPORTER={exporters} leaves {{}} out"
    found: list[tuple[tuple[str, ...], str]] = []
    if settings.otlp is None and exporters:
        found.append(((*_OTLP_ENDPOINTS, *_OTLP_OPTIONS), left_out.format("otlp")))
    elif settings.otlp is None:
        found.append((_OTLP_OPTIONS, _NO_OTLP_ENDPOINT))
    mlflow = settings.mlflow
    if mlflow is None:
        found.append(((*_MLFLOW_VARS, *_MLFLOW_AUTH, *_MLFLOW_TLS), left_out.format("mlflow")))
    elif mlflow.embedded:
        found.append(((*_MLFLOW_AUTH, *_MLFLOW_TLS), _EMBEDDED_NEEDS_NO_AUTH))
    else:
        if mlflow.token:
            found.append((_MLFLOW_AUTH[1:], "MLFLOW_TRACKING_TOKEN is used instead"))
        if mlflow.verify is False:
            found.append((_MLFLOW_TLS[1:], "MLFLOW_TRACKING_INSECURE_TLS turns verification off"))
    if mlflow is not None and mlflow.experiment_id is not None:
        found.append((("MLFLOW_EXPERIMENT_NAME",), "MLFLOW_EXPERIMENT_ID is used instead"))
    if env.get(CONTENT_DESTINATIONS_VAR, "").strip():
        found.append(((CAPTURE_CONTENT_VAR,), f"otel-bridge follows {CONTENT_DESTINATIONS_VAR}"))
    if not settings.spool.enabled:
        found.append(((SPOOL_DIR_VAR, SPOOL_MAX_BYTES_VAR), f"{SPOOL_VAR} turns the spool off"))
    return tuple(
        Ineffective(variable, _shown(variable, value), why)
        for variables, why in found
        for variable in variables
        if (value := env.get(variable, "").strip())
    )


def _shown(variable: str, value: str) -> str:
    if variable in _SECRET_VARS:
        return MASK
    if variable.endswith("_HEADERS"):
        return mask_header_list(value)
    return mask_url(value)


# --- shared helpers -------------------------------------------------------------------


def _exporters(env: Mapping[str, str], given: object = None) -> set[str] | None:
    if given is not None:
        variable, raw, names = "exporters", given, names_of("exporters", given)
    else:
        variable, raw = "OTEL_TRACES_EXPORTER", env.get("OTEL_TRACES_EXPORTER", "").strip()
        if not raw:
            return None
        names = _comma_list(raw)
    known = {"otlp", "mlflow", "console", "none"}
    unknown = names - known
    if unknown:
        raise ConfigError(
            variable,
            raw,
            f"unknown exporter {sorted(unknown)[0]!r}; use otlp, mlflow, console or none",
        )
    return names - {"none"}


def _batch(env: Mapping[str, str]) -> BatchSettings:
    defaults = BatchSettings()
    return BatchSettings(
        max_queue_size=_positive_int(env, "OTEL_BSP_MAX_QUEUE_SIZE", defaults.max_queue_size),
        max_export_batch_size=_positive_int(
            env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", defaults.max_export_batch_size
        ),
        schedule_delay_millis=_positive_int(
            env, "OTEL_BSP_SCHEDULE_DELAY", defaults.schedule_delay_millis
        ),
        export_timeout_millis=_positive_int(
            env, "OTEL_BSP_EXPORT_TIMEOUT", defaults.export_timeout_millis
        ),
    )


def _first_set(env: Mapping[str, str], *names: str) -> tuple[str, str]:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return names[0], ""


def _bool(env: Mapping[str, str], var: str, default: bool) -> bool:
    value = env.get(var, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(var, value, "expected true or false")


def _optional_bool_pair(env: Mapping[str, str], *names: str) -> bool | None:
    var, value = _first_set(env, *names)
    return _bool({var: value}, var, False) if value else None


def _positive_int(env: Mapping[str, str], var: str, default: int) -> int:
    value = env.get(var, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(var, value, "expected a whole number") from None
    if number <= 0:
        raise ConfigError(var, value, "must be greater than 0")
    return number


def _positive_float(env: Mapping[str, str], var: str, default: float) -> float:
    value = env.get(var, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(var, value, "expected a number of seconds") from None
    if not number > 0:
        raise ConfigError(var, value, "must be greater than 0")
    return number


def _seconds_up_to(env: Mapping[str, str], var: str, default: float, maximum: float) -> float:
    number = _positive_float(env, var, default)
    if not number <= maximum:  # inf and 1e12 too: no thread can wait that long
        raise ConfigError(var, env.get(var), f"at most {maximum:g} seconds")
    return number


def _service_name(env: Mapping[str, str]) -> str | None:
    """``OTEL_SERVICE_NAME``: valid UTF-8 (every export would fail otherwise) and, when it
    names the MLflow experiment too, no longer than MLflow allows."""
    for var in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        value = env.get(var, "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise ConfigError(var, shown, "not valid UTF-8") from None
    name = env.get("OTEL_SERVICE_NAME", "").strip() or None
    if name is not None and len(name) > MAX_SERVICE_NAME_LENGTH:
        raise ConfigError(
            "OTEL_SERVICE_NAME",
            f"{name[:40]}... ({len(name)} characters)",
            f"at most {MAX_SERVICE_NAME_LENGTH} characters (it names the MLflow experiment "
            "and the spool directory too)",
        )
    return name


def _positive_float_pair(
    env: Mapping[str, str], signal: str, generic: str, default: float
) -> float:
    var, _ = _first_set(env, signal, generic)
    return _positive_float(env, var, default)
