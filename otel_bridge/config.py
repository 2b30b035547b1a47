"""Environment in, validated settings out: the one place the bridge reads configuration.

Everything else receives a :class:`Settings` value and never looks at ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit

from otel_bridge.redaction import MASK, mask_headers, mask_url

_logger = logging.getLogger(__name__)

# Defaults shared with collector-config/, docker-compose.yml and the README.
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
OTLP_TRACES_PATH = "/v1/traces"
MLFLOW_PORT = 5000
MLFLOW_EXPERIMENT_HEADER = "x-mlflow-experiment-id"
EMBEDDED_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own default, so `mlflow ui` finds it

Protocol = Literal["grpc", "http/protobuf"]
PROTOCOLS: tuple[str, ...] = ("grpc", "http/protobuf")
COMPRESSIONS: tuple[str, ...] = ("gzip", "deflate", "none")

CAPTURE_CONTENT_VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_DESTINATIONS_VAR = "OTEL_BRIDGE_CONTENT_DESTINATIONS"
SHUTDOWN_TIMEOUT_VAR = "OTEL_BRIDGE_SHUTDOWN_TIMEOUT"
MAX_SHUTDOWN_TIMEOUT = 3600.0
MAX_SERVICE_NAME_LENGTH = 500  # MLflow's limit for an experiment name (the default one)
SPOOL_VAR = "OTEL_BRIDGE_SPOOL"
SPOOL_DIR_VAR = "OTEL_BRIDGE_SPOOL_DIR"
SPOOL_MAX_BYTES_VAR = "OTEL_BRIDGE_SPOOL_MAX_BYTES"
DEFAULT_SPOOL_DIR = Path(".otel-bridge") / "spool"  # under the working directory, like mlflow.db
DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024
DESTINATIONS = ("otlp", "mlflow")

_TRUE = {"true", "1", "yes", "on", "span_only", "span_and_event"}
_FALSE = {"false", "0", "no", "off", "no_content", "event_only"}


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the variable and the value."""

    def __init__(self, variable: str, value: object, problem: str) -> None:
        self.variable = variable
        self.value = value
        shown = mask_url(value) if isinstance(value, str) else value
        super().__init__(f"{variable}={shown!r}: {problem}")


@dataclass(frozen=True)
class ContentPolicy:
    """Which destinations receive message content (prompts, completions, tool arguments)."""

    otlp: bool = False
    mlflow: bool = True

    @property
    def any(self) -> bool:
        return self.otlp or self.mlflow

    def allows(self, destination: str) -> bool:
        return bool(getattr(self, destination))


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


@dataclass(frozen=True)
class Settings:
    disabled: bool = False
    service_name: str | None = None
    otlp: OtlpSettings | None = None
    mlflow: MlflowSettings | None = None
    console: bool = False
    content: ContentPolicy = ContentPolicy()
    batch: BatchSettings = BatchSettings()
    shutdown_timeout: float = 5.0
    spool: SpoolSettings = SpoolSettings(enabled=False)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read and validate every variable the bridge honours.

    ``overrides`` take the place of the variables of the same meaning:
    ``service_name``, ``otlp_endpoint``, ``otlp_protocol``, ``otlp_headers``,
    ``mlflow_tracking_uri``, ``mlflow_experiment_name``, ``mlflow_experiment_id``,
    ``exporters`` (like ``OTEL_TRACES_EXPORTER``), ``content_destinations``,
    ``shutdown_timeout``, ``disabled``, ``spool`` (bool), ``spool_dir``, ``spool_max_bytes``.
    """
    env = dict(os.environ if environ is None else environ)
    unknown = set(overrides) - set(_OVERRIDE_VARS)
    if unknown:
        raise TypeError(f"configure() got unknown option(s): {', '.join(sorted(unknown))}")
    for name, value in overrides.items():
        if value is not None:
            env[_OVERRIDE_VARS[name]] = _as_env(value)

    disabled = _bool(env, "OTEL_SDK_DISABLED", False)
    if disabled:
        return Settings(disabled=True)

    exporters = _exporters(env)
    service_name = _service_name(env)
    # Without OTEL_TRACES_EXPORTER: OTLP when an endpoint is set, MLflow always.
    wanted = {"mlflow"} if exporters is None else exporters
    otlp = (
        _otlp(env, explicit=exporters is not None)
        if exporters is None or "otlp" in wanted
        else None
    )
    mlflow = _mlflow(env, service_name) if "mlflow" in wanted else None
    return Settings(
        service_name=service_name,
        otlp=otlp,
        mlflow=mlflow,
        console=bool(exporters and "console" in exporters),
        content=content_policy_from_env(env),
        batch=_batch(env),
        shutdown_timeout=_seconds_up_to(env, SHUTDOWN_TIMEOUT_VAR, 5.0, MAX_SHUTDOWN_TIMEOUT),
        spool=_spool(env),
    )


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


def _as_env(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    return str(value)


def content_policy_from_env(environ: Mapping[str, str] | None = None) -> ContentPolicy:
    """Content goes to MLflow only by default.

    ``OTEL_BRIDGE_CONTENT_DESTINATIONS`` (comma list of ``otlp``, ``mlflow``, or
    ``none``) chooses per destination and wins; otherwise the GenAI conventions'
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` sends content to both
    (true) or to neither (false).
    """
    env = os.environ if environ is None else environ
    chosen = env.get(CONTENT_DESTINATIONS_VAR, "").strip()
    if chosen:
        names = _comma_list(chosen)
        if names == {"none"}:
            return ContentPolicy(otlp=False, mlflow=False)
        unknown = names - set(DESTINATIONS)
        if unknown:
            raise ConfigError(
                CONTENT_DESTINATIONS_VAR,
                chosen,
                f"unknown destination {sorted(unknown)[0]!r}; use a comma list of "
                "'otlp', 'mlflow', or 'none'",
            )
        return ContentPolicy(otlp="otlp" in names, mlflow="mlflow" in names)
    switch = env.get(CAPTURE_CONTENT_VAR, "").strip()
    if not switch:
        return ContentPolicy()
    if switch.lower() in _TRUE:
        return ContentPolicy(otlp=True, mlflow=True)
    if switch.lower() in _FALSE:
        return ContentPolicy(otlp=False, mlflow=False)
    raise ConfigError(CAPTURE_CONTENT_VAR, switch, "expected true or false")


# --- OTLP -----------------------------------------------------------------------------


def _otlp(env: Mapping[str, str], *, explicit: bool) -> OtlpSettings | None:
    signal_var, generic_var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
    signal = env.get(signal_var, "").strip()
    generic = env.get(generic_var, "").strip()
    if not signal and not generic and not explicit:
        _logger.info(
            "otel-bridge: no OTLP destination (%s and %s are unset)", signal_var, generic_var
        )
        return None
    protocol_var, protocol_value = _first_set(
        env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
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
        protocol, reason = _infer_protocol(url)
    endpoint = _otlp_endpoint(url, protocol, generic=url_var == generic_var)
    headers = _headers(env)
    return OtlpSettings(
        endpoint=endpoint,
        protocol=protocol,
        protocol_reason=reason,
        headers=headers,
        timeout=_positive_float_pair(
            env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", 10.0
        ),
        compression=_compression(env),
        certificate=_file_pair(env, "CERTIFICATE"),
        client_certificate=_file_pair(env, "CLIENT_CERTIFICATE"),
        client_key=_file_pair(env, "CLIENT_KEY"),
        insecure=_optional_bool_pair(
            env, "OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"
        ),
    )


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


def _infer_protocol(url: str) -> tuple[Protocol, str]:
    if not url:
        return "grpc", "no endpoint set; the OTLP default is gRPC on localhost:4317"
    parts = urlsplit(url)
    if parts.port == OTLP_GRPC_PORT:
        return "grpc", f"port {OTLP_GRPC_PORT} is the OTLP/gRPC port"
    if parts.port == OTLP_HTTP_PORT:
        return "http/protobuf", f"port {OTLP_HTTP_PORT} is the OTLP/HTTP port"
    if parts.path.rstrip("/").endswith(OTLP_TRACES_PATH):
        return "http/protobuf", f"the path ends in {OTLP_TRACES_PATH}"
    return "grpc", "no protocol variable, port or path says otherwise"


def _otlp_endpoint(url: str, protocol: Protocol, *, generic: bool) -> str:
    if protocol == "grpc":
        if not url:
            return f"http://localhost:{OTLP_GRPC_PORT}"
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"  # gRPC has no path
    if not url:
        return f"http://localhost:{OTLP_HTTP_PORT}{OTLP_TRACES_PATH}"
    if generic:
        return url.rstrip("/") + OTLP_TRACES_PATH
    return url


def _headers(env: Mapping[str, str]) -> dict[str, str]:
    var, raw = _first_set(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    return parse_headers(var, raw) if raw else {}


def parse_headers(var: str, raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` with URL-encoded values, as the OTLP exporter spec says."""
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = unquote(key).strip().lower()
        if not sep or not key or any(c in key for c in ' \t"(),/:;<=>?@[\\]{}'):
            raise ConfigError(
                var,
                mask_header_list(raw),
                f"malformed entry {_masked_entry(item)!r}; "
                "expected a comma list of key=value (values URL-encoded)",
            )
        headers[key] = unquote(value).strip()
    return headers


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


def _compression(env: Mapping[str, str]) -> str | None:
    var, value = _first_set(
        env, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"
    )
    if not value:
        return None
    if value.lower() not in COMPRESSIONS:
        raise ConfigError(var, value, "use gzip, deflate or none")
    return None if value.lower() == "none" else value.lower()


def _file_pair(env: Mapping[str, str], suffix: str) -> str | None:
    var, value = _first_set(
        env, f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"
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


def _spool(env: Mapping[str, str]) -> SpoolSettings:
    enabled = _bool(env, SPOOL_VAR, True)
    raw_dir = env.get(SPOOL_DIR_VAR, "").strip()
    try:
        directory = Path(raw_dir).expanduser() if raw_dir else DEFAULT_SPOOL_DIR
    except RuntimeError:  # "~user" with no such user
        raise ConfigError(SPOOL_DIR_VAR, raw_dir, "cannot expand ~ (no such user)") from None
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


# --- shared helpers -------------------------------------------------------------------


def _exporters(env: Mapping[str, str]) -> set[str] | None:
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip()
    if not raw:
        return None
    names = _comma_list(raw)
    known = {"otlp", "mlflow", "console", "none"}
    unknown = names - known
    if unknown:
        raise ConfigError(
            "OTEL_TRACES_EXPORTER",
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


def _comma_list(raw: str) -> set[str]:
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


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
