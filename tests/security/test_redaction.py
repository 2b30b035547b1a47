"""The scrubber: key-shaped strings, known secrets, credential names, URLs, log records."""

from __future__ import annotations

import json
import logging
import time

import pytest

from otel_bridge import redaction
from otel_bridge.redaction import MASK, scrub, scrub_shapes

SHAPED = [
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",
    "sk-svcacct-AbCdEfGhIjKlMnOp",
    "sk-AbCdEfGhIjKlMnOpQrSt",  # a LiteLLM virtual key
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "ghp_" + "a1" * 18,
    "github_pat_" + "A1_" * 12,
    "xoxb-1234567890-abcdefghij",
    "xoxp-1234567890-abcdefghij",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
]


@pytest.mark.parametrize("key", SHAPED)
@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "key: {} end",
        "({})",
        '{{"content": "{}"}}',
        '"line one\\n{}"',  # JSON text: a key right after an escaped newline
        '"\\u001b{}"',
    ],
)
def test_key_shapes_are_masked(key, template):
    text = template.format(key)
    scrubbed = scrub_shapes(text)
    assert key not in scrubbed
    assert MASK in scrubbed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123456", "Authorization: Bearer ***"),
        ("authorization: bearer AbCdEfGhIjKlMnOpQrStUv", "authorization: bearer ***"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic ***"),
        ("https://ada:hunter2@example.com/v1", "https://ada:***@example.com/v1"),
        ("postgresql://u:p@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("https://ghtoken1234@github.com/x.git", "https://***@github.com/x.git"),
    ],
)
def test_credentials_in_context(text, expected):
    assert scrub_shapes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "task-runner sk-short",
        "risk-assessment-framework and desk-lamp-assembly-instructions",
        "mask-sk-",
        "the bearer instruments were signed",
        "a basic understanding of the basics",
        "Basic HTTP authentication",
        "see https://example.com/a@b and mailto:ada@example.com",
        "hello world, 42 apples",
        "AKIA is not a key",
        "eyJ",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert scrub_shapes(text) == text
    assert scrub(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api_key=abc123def", "api_key=***"),
        ("OPENAI_API_KEY=abc123def", "OPENAI_API_KEY=***"),
        ('{"password": "hunter22"}', '{"password": "***"}'),
        ("x-api-key: 0123456789abcdef", "x-api-key: ***"),
        ("client_secret='s3cr3t-value'", "client_secret='***'"),
        ("https://h/x?sig=abcdef123&se=1", "https://h/x?sig=***&se=1"),
        ("Ünïcode then api_key=abc123def", "Ünïcode then api_key=***"),
    ],
)
def test_assignments_are_masked_in_free_text(text, expected):
    assert scrub(text) == expected


def test_known_secrets_are_masked_whatever_their_shape():
    azure = "0123456789abcdef0123456789abcdef"
    text = f"key {azure} refused; also {azure[:8]}"
    assert scrub(text, [azure]) == f"key {MASK} refused; also {azure[:8]}"
    # longest first: a secret containing another is masked whole
    assert scrub("abcdefgh-ijkl", redaction.ordered(["abcdefgh", "abcdefgh-ijkl"])) == MASK


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("api-key", True),
        ("x-api-key", True),
        ("OPENAI_API_KEY", True),
        ("apiKey", True),
        ("LITELLM_MASTER_KEY", True),
        ("MLFLOW_TRACKING_TOKEN", True),
        ("MLFLOW_TRACKING_PASSWORD", True),
        ("aws_secret_access_key", True),
        ("Cookie", True),
        ("key", False),
        ("max_tokens", False),
        ("session_id", False),
        ("KEYBOARD", False),
        ("monkey", False),
        (None, False),
        # the shell's working directory and places where secrets are kept are not secrets
        ("PWD", False),
        ("OLDPWD", False),
        ("PASSWORD_STORE_DIR", False),
        ("AWS_SHARED_CREDENTIALS_FILE", False),
        ("DB_PWD", True),
        ("PGPASSWORD", True),
        ("BYPASS_CACHE", False),
        ("max_tokens", False),
    ],
)
def test_credential_names(name, secret):
    assert redaction.is_secret_name(name) is secret


def test_secrets_of_a_call():
    found = redaction.call_secrets(
        {
            "model": "gpt-4o-mini",
            "api_key": "sk-test-123456",
            "max_tokens": 100,
            "extra_headers": {
                "Authorization": "Bearer tok-abcdef",
                "api-key": "azure-abcdef",
                "x-trace": "not-a-secret",
            },
            "api_base": "https://user:pw-123456@h/v1",
            "aws_secret_access_key": "wJalrXUtnFEMI",
        }
    )
    assert found == {
        "sk-test-123456",
        "Bearer tok-abcdef",
        "tok-abcdef",
        "azure-abcdef",
        "pw-123456",
        "wJalrXUtnFEMI",
    }


def test_secrets_of_the_environment():
    env = {
        "OPENAI_API_KEY": "sk-env-123456",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=hdr%20value1,x-tenant=acme-corp",
        "DATABASE_URL": "postgresql://u:dbpass99@h/db",
        "SOME_TOKEN": "true",  # not a credential whatever its name
        "HOME": "/root",
        "PATH": "/usr/bin",
    }
    assert redaction.environment_secrets(env) == {
        "sk-env-123456",
        "hdr value1",
        "acme-corp",
        "dbpass99",
    }


def test_redact_url_keeps_what_is_not_a_credential():
    url = "https://ada:pw@res.openai.azure.com/openai?api-version=2024-10-21&key=k1&sig=s"
    assert redaction.redact_url(url) == (
        "https://ada:***@res.openai.azure.com/openai?api-version=2024-10-21&key=***&sig=***"
    )
    assert redaction.redact_url("http://127.0.0.1:4000/v1") == "http://127.0.0.1:4000/v1"


def test_log_records_are_scrubbed(monkeypatch, caplog):
    redaction.install_log_scrubbing()  # what configure() and instrument() do
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-token-value-1")
    logger = logging.getLogger("otel_bridge.tests.scrubbed")
    caplog.set_level(logging.DEBUG, logger="otel_bridge.tests.scrubbed")
    try:
        raise ValueError("refused sk-proj-AbCdEfGhIjKlMnOpQrSt with plain-token-value-1")
    except ValueError:
        logger.warning("export to %s failed", "https://u:pw-99@h", exc_info=True)
    text = caplog.text
    assert "export to https://u:***@h failed" in text
    assert "sk-proj-AbCdEfGhIjKlMnOpQrSt" not in text
    assert "plain-token-value-1" not in text
    assert "pw-99" not in text
    assert "ValueError: refused *** with ***" in text


def test_the_record_factory_survives_interpreter_exit(monkeypatch):
    """At exit a module's globals may be None already while a library's __del__ still logs
    (aiohttp's unclosed sessions on Python 3.10): the factory still makes every record."""
    redaction.install_log_scrubbing()
    monkeypatch.setattr(redaction, "BRIDGE_LOGGER", None)
    monkeypatch.setattr(redaction, "scrub_record", None)
    record = logging.getLogRecordFactory()(
        "asyncio", logging.ERROR, __file__, 1, "Unclosed client session", (), None
    )
    assert record.getMessage() == "Unclosed client session"
    bridged = logging.getLogRecordFactory()(
        "otel_bridge.x", logging.ERROR, __file__, 1, "key sk-proj-AbCdEfGhIjKlMnOpQrSt", (), None
    )
    assert "sk-proj-AbCdEfGhIjKlMnOpQrSt" not in bridged.getMessage()


def test_other_loggers_are_left_alone(caplog):
    caplog.set_level(logging.INFO, logger="otel_bridgework")
    logging.getLogger("otel_bridgework").info("api_key=abcdefgh1234")
    assert "api_key=abcdefgh1234" in caplog.text


def test_scrubbing_content_is_cheap():
    """No match: a few literal scans of the text; about 2 µs for a short message."""
    small = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi there"}]}])
    big = json.dumps([{"type": "text", "content": "hello world, some text here " * 2400}])
    assert len(big) > 64 * 1024
    start = time.perf_counter()
    for _ in range(1000):
        scrub_shapes(small)
    per_small = (time.perf_counter() - start) / 1000
    start = time.perf_counter()
    for _ in range(10):
        scrub_shapes(big)
    per_big = (time.perf_counter() - start) / 10
    assert per_small < 50e-6, per_small  # generous for slow CI machines: measured ~2 µs
    assert per_big < 5e-3, per_big  # measured ~0.2 ms for 64 KiB


def test_printed_configuration_masks_credentials():
    from otel_bridge.config import load_settings

    settings = load_settings(
        {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://u:otlp-pw-1@h:4318/v1/traces",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=hdr-secret-1,x-tenant=acme",
            "MLFLOW_TRACKING_URI": "https://ml:ml-pw-1@h:5000",
            "MLFLOW_TRACKING_TOKEN": "ml-token-1",
            "MLFLOW_TRACKING_USERNAME": "ada",
            "MLFLOW_TRACKING_PASSWORD": "ml-password-1",
        }
    )
    for text in (repr(settings), str(settings), repr(settings.otlp), repr(settings.mlflow)):
        for secret in ("otlp-pw-1", "hdr-secret-1", "acme", "ml-pw-1", "ml-token-1"):
            assert secret not in text
        assert "ml-password-1" not in text
    assert "headers={'api-key': '***', 'x-tenant': '***'}" in repr(settings.otlp)
    assert "username='ada'" in repr(settings.mlflow)
    # the values themselves are intact for the exporters
    assert settings.otlp.headers["api-key"] == "hdr-secret-1"
    assert settings.mlflow.token == "ml-token-1"


def test_the_working_directory_is_not_a_secret():
    env = {"PWD": "/home/ada/project", "OLDPWD": "/home/ada", "DB_PWD": "hunter2-db"}
    assert redaction.environment_secrets(env) == {"hunter2-db"}


def test_credential_query_parameters_of_a_url_are_known_secrets():
    found = redaction.call_secrets(
        {"api_base": "https://gw.example/v1?key=plainvalue42&api-version=2024-06-01&sig=a%2Fb%3D99"}
    )
    assert found == {"plainvalue42", "a%2Fb%3D99", "a/b=99"}


def test_every_authorization_scheme_gives_its_credential():
    found = redaction.header_secrets(
        {"Authorization": "ApiKey abcdef0123456789", "X-Auth": "SSWS 00abcdefghijklmnop"}
    )
    assert {"abcdef0123456789", "00abcdefghijklmnop"} <= found
    # a passphrase under a credential's name is not split into words that would mask prose
    assert redaction.call_secrets({"password": "correct horse battery"}) == {
        "correct horse battery"
    }


def test_a_client_passed_to_litellm_gives_its_key():
    import openai

    client = openai.OpenAI(api_key="client-key-0123456789", base_url="http://u:pw-7777777@h/v1")
    assert {"client-key-0123456789", "pw-7777777"} <= redaction.call_secrets({"client": client})


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("u:pw-secret-1@collector:4318", "pw-secret-1"),  # no scheme: urlsplit sees scheme "u"
        ("http://u:pw-secret-2@[::1:4318/v1/traces", "pw-secret-2"),  # a bad IPv6 address
        ("http://[bad-ipv6/v1?token=tok-secret-3", "tok-secret-3"),
        ("token-secret-4@collector:4318", "token-secret-4"),
    ],
)
def test_urls_python_cannot_parse_are_masked_too(url, hidden):
    masked = redaction.mask_url(url)
    assert hidden not in masked and MASK in masked


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("Authorization: Bearer tok-0123456789", "tok-0123456789"),
        ("api-key=ok,Authorization Bearer tok-9876543210", "tok-9876543210"),
        ("sk0123456789abcdef", "sk0123456789abcdef"),
    ],
)
def test_a_malformed_header_list_is_named_without_its_token(raw, hidden):
    from otel_bridge.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as caught:
        load_settings({"OTEL_EXPORTER_OTLP_HEADERS": raw, "OTEL_TRACES_EXPORTER": "otlp"})
    assert hidden not in str(caught.value)
    assert str(caught.value).startswith("OTEL_EXPORTER_OTLP_HEADERS=")


@pytest.mark.parametrize(
    "endpoint",
    ["u:pw-secret-5@collector:4318", "http://u:pw-secret-5@[::1:4318/v1/traces"],
)
def test_a_bad_endpoint_is_named_without_its_password(endpoint):
    from otel_bridge.config import ConfigError, load_settings

    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "otlp"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "pw-secret-5" not in str(caught.value)
