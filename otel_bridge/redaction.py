"""Secrets out of everything the bridge writes: spans, exception text, log lines, printed config.

Two tools, used together:

* **known secrets**: the exact credential values a call carries (``api_key=``, ``Authorization``
  / ``api-key`` / ``x-api-key`` header values, provider keys in the environment and on the
  ``litellm`` module, a proxy's master key). Whatever their shape, they are replaced wherever
  they appear (:func:`scrub`'s ``secrets``).
* **key-shaped strings**, the last line of defence for what nobody told us about: ``sk-...``
  (OpenAI, Anthropic ``sk-ant-``, ``sk-proj-``, LiteLLM virtual keys), ``AKIA...``/``ASIA...``,
  ``AIza...``, ``ghp_...``/``github_pat_...``, ``xox[abposr]-...``, JWTs (``eyJ...``),
  ``Bearer <token>``, ``Basic <base64 user:password>``, URL userinfo (``scheme://user:***@``) and
  ``api_key=...``/``"password": "..."``-style assignments (the last only in exception text and log
  lines). Scanned for only where text is serialised anyway (captured content, exception
  messages, log records), never on the path of a call without content capture.

Everything is replaced by :data:`MASK`. Nothing here raises on odd input. Importing this module
makes every log record of the bridge's loggers (``otel_bridge.*``) scrubbed as it is created.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

# Values shorter than this are never treated as known secrets: masking "true" or "1234"
# everywhere would make every text unreadable and protect nothing.
MIN_SECRET_LENGTH = 6

# --- key-shaped strings --------------------------------------------------------------------

# One pattern per shape, each starting with a literal: the regex engine then scans for the literal
# at C speed (a few microseconds per 64 KiB), where a single alternation of all shapes would try
# every alternative at every character (a hundred times slower). Where a token may start (not
# inside a word) is checked on the match, so no pattern starts with a look-behind either.
_TOKEN = r"[A-Za-z0-9_\-]"
_SHAPES: tuple[tuple[str, int], ...] = (
    # (pattern, characters of the token before the match: B/b of Bearer and Basic)
    (rf"sk-{_TOKEN}{{6,}}", 0),  # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic, LiteLLM keys
    (r"AKIA[0-9A-Z]{16}", 0),  # AWS access key ids
    (r"ASIA[0-9A-Z]{16}", 0),  # AWS temporary access key ids
    (rf"AIza{_TOKEN}{{35}}", 0),  # Google API keys
    (r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}", 0),  # GitHub tokens
    (r"xox[abposr]-[A-Za-z0-9\-]{10,}", 0),  # Slack tokens
    (rf"eyJ{_TOKEN}{{8,}}(?:\.{_TOKEN}*){{0,2}}", 0),  # JWTs and other base64 JSON
    (r"(?P<bearer>earer\s+)(?P<token>[A-Za-z0-9._~+/\-]{8,}=*)", 1),  # Bearer <token>
    (r"(?P<basic>asic\s+)(?P<b64>[A-Za-z0-9+/]{8,}=*)", 1),  # Basic <base64 user:password>
    (r"(?P<scheme>://)(?P<userinfo>[^\s/?#@\"'\\<>]+)@", 0),  # scheme://user:password@
)
# How each key shape begins: a text cut inside a key is cut before it instead.
KEY_PREFIXES = (
    "sk-",
    "AKIA",
    "ASIA",
    "AIza",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxo-",
    "xoxs-",
    "xoxr-",
    "eyJ",
)
_SHAPE_PATTERNS = tuple((re.compile(pattern), back) for pattern, back in _SHAPES)
_SK_PREFIXES = ("sk-proj-", "sk-ant-", "sk-svcacct-", "sk-admin-")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _starts_token(text: str, index: int) -> bool:
    """A token starts at ``index``: not inside a word, except right after a JSON escape (content
    is scrubbed as JSON text, where a newline before a key is the two characters ``\\n``)."""
    if index == 0 or text[index - 1] not in _WORD:
        return True
    if index >= 2 and text[index - 2] == "\\" and text[index - 1] in "nrtbf":
        return True
    return index >= 6 and text[index - 6 : index - 4] == "\\u"


def _credential_like(token: str) -> bool:
    """After ``Bearer``: a token, not an English word ("bearer instruments")."""
    return len(token) >= 20 or any(not c.isalpha() for c in token)


def _basic_credential(token: str) -> bool:
    """After ``Basic``: base64 of ``user:password``, not a word ("basic understanding")."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _replace_shape(match: re.Match[str]) -> str:
    text, start = match.string, match.start()
    groups = match.groupdict()
    if "userinfo" in groups:
        user, sep, _password = groups["userinfo"].partition(":")
        return f"://{user}:{MASK}@" if sep else f"://{MASK}@"
    if "bearer" in groups or "basic" in groups:
        if start == 0 or text[start - 1] not in "Bb" or not _starts_token(text, start - 1):
            return match.group(0)
        if "bearer" in groups:
            ok = _credential_like(groups["token"])
            prefix = groups["bearer"]
        else:
            ok = _basic_credential(groups["b64"])
            prefix = groups["basic"]
        return prefix + MASK if ok else match.group(0)
    found = match.group(0)
    # Only the plain "sk-" shape needs a word start ("risk-assessment-framework"): the others,
    # sk-proj- and kin included, do not occur inside ordinary words.
    if not found.startswith("sk-") or found.startswith(_SK_PREFIXES) or _starts_token(text, start):
        return MASK
    # Inside a word ("mask-sk-..."): keep the first character and look again in the rest.
    return found[0] + match.re.sub(_replace_shape, found[1:])


def scrub_shapes(text: str) -> str:
    """``text`` with key-shaped strings replaced by ``***``: the last line of defence for
    captured content. About 10 literal scans of the text; no work beyond them when nothing
    looks like a key."""
    for pattern, _ in _SHAPE_PATTERNS:
        text = pattern.sub(_replace_shape, text)
    return text


# ``name=value`` / ``"name": "value"`` where the name says the value is a credential. Slower
# than the shapes (no literal to scan for): for exception text and log lines only. Matched on the
# lower-cased text when that keeps every position (ASCII), which is twice as fast as (?i).
_ASSIGNMENT_NAMES = (
    r"api[_\-]?key|x[_\-]api[_\-]key|api[_\-]?token|access[_\-]?token|refresh[_\-]?token"
    r"|auth[_\-]?token|id[_\-]?token|session[_\-]?token|bearer[_\-]?token|secret[_\-]?key"
    r"|secret[_\-]?access[_\-]?key|client[_\-]?secret|private[_\-]?key|master[_\-]?key"
    r"|secret|password|passwd|pwd|sig|signature"
)
_ASSIGNMENT_TAIL = r"[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s\"'&,;{}\[\]()<>\\]{6,})"
_ASSIGNMENT_LOWER = re.compile(rf"(?<![a-z0-9])(?P<name>(?:{_ASSIGNMENT_NAMES}){_ASSIGNMENT_TAIL}")
_ASSIGNMENT_ANY = re.compile(
    rf"(?<![A-Za-z0-9])(?P<name>(?i:{_ASSIGNMENT_NAMES}){_ASSIGNMENT_TAIL}"
)


def scrub_assignments(text: str) -> str:
    """``api_key=...``, ``"password": "..."``, ``client_secret: ...``: the value masked."""
    if not text.isascii():
        return _ASSIGNMENT_ANY.sub(lambda m: m.group("name") + MASK, text)
    pieces: list[str] = []
    last = 0
    for match in _ASSIGNMENT_LOWER.finditer(text.lower()):
        start, end = match.span("value")
        pieces.append(text[last:start])
        pieces.append(MASK)
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def replace_known(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (longest first: :func:`ordered`) replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret, key-shaped string and ``api_key=...``-style assignment
    replaced by ``***``: for exception messages, stack traces and log lines."""
    if not isinstance(text, str):
        return text
    return scrub_assignments(scrub_shapes(replace_known(text, secrets)))


# --- known secrets -------------------------------------------------------------------------

# A name (parameter, header, environment variable) whose value is a credential: one of its
# words (split on _ - . and camel case) is one of these.
_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "secret",
        "token",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "cookie",
        "signature",
    }
)
_WORD_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
# Values that are clearly not credentials even under a credential's name.
_NOT_SECRETS = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off"})


# A name that ends with one of these names where a secret is kept, not the secret:
# PASSWORD_STORE_DIR, AWS_SHARED_CREDENTIALS_FILE, GOOGLE_APPLICATION_CREDENTIALS_PATH.
_PLACE_WORDS = frozenset({"dir", "directory", "path", "file", "home"})
# Alone, these words are not credentials: a bare "key" is a dictionary's or a cache's more
# often, and PWD is the shell's working directory (masking it masked every path in a trace).
_NOT_ALONE = frozenset({"key", "pwd"})
# Run-together names: PGPASSWORD, DBPASSWD, CLIENTSECRET, GITHUBTOKEN (never PASSENGER, BYPASS).
_SECRET_ENDINGS = ("password", "passwd", "secret", "token", "apikey")


def is_secret_name(name: object) -> bool:
    """``Authorization``, ``api-key``, ``x-api-key``, ``OPENAI_API_KEY``, ``api_key``,
    ``MLFLOW_TRACKING_PASSWORD``, ``DB_PWD``, ``aws_secret_access_key``... but not
    ``max_tokens``, ``key``, ``PWD``, ``OLDPWD``, ``PASSWORD_STORE_DIR``."""
    if not isinstance(name, str):
        return False
    words = [word.lower() for word in _WORD_SPLIT.split(name) if word]
    if not words or (len(words) == 1 and words[0] in _NOT_ALONE) or words[-1] in _PLACE_WORDS:
        return False
    return any(word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in words)


def _add(found: set[str], value: Any) -> None:
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRETS or value.isdigit():
        return
    found.add(value)
    # "<scheme> <credential>": Bearer, Basic, Token, and every other scheme (ApiKey, SSWS,
    # Splunk, GenieKey...): an upstream that echoes the credential quotes it without the scheme
    scheme, _, credential = value.partition(" ")
    known = scheme.lower() in ("bearer", "basic", "token")
    token_like = scheme.isalnum() and len(credential) >= 12 and " " not in credential.strip()
    if credential and (known or token_like):  # not the words of a passphrase
        _add(found, credential)
        if scheme.lower() == "basic":
            try:
                user_password = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, ValueError):
                return
            _add(found, user_password.partition(":")[2])


def header_secrets(headers: Any) -> set[str]:
    """Values of the credential headers in a mapping of headers."""
    found: set[str] = set()
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if is_secret_name(name):
                _add(found, value)
    return found


def header_list_secrets(raw: str) -> set[str]:
    """Every value of an OTLP ``k1=v1,k2=v2`` header list (headers to a backend are credentials
    more often than not)."""
    found: set[str] = set()
    for item in raw.split(","):
        _, sep, value = item.partition("=")
        if sep:
            _add(found, unquote(value))
    return found


_HEADER_PARAMETERS = ("extra_headers", "headers", "default_headers")


def call_secrets(kwargs: Mapping[str, Any]) -> set[str]:
    """Credentials passed to one LiteLLM call: ``api_key=`` and any other credential-named
    argument, credential headers in ``extra_headers`` / ``headers``, and the password of a URL
    (``api_base``)."""
    found: set[str] = set()
    for name, value in kwargs.items():
        if name in _HEADER_PARAMETERS:
            found |= header_secrets(value)
        elif is_secret_name(name):
            _add(found, value)
        elif isinstance(value, str):
            if "://" in value:
                found |= url_secrets(value)
        elif name == "client" and value is not None:
            found |= client_secrets(value)
    return found


def client_secrets(client: Any) -> set[str]:
    """The key of an SDK client passed as ``client=`` (``openai.OpenAI(api_key=...)``,
    ``AzureOpenAI``, ``anthropic.Anthropic``...), its default headers' credentials and the
    secrets of its base URL."""
    found: set[str] = set()
    try:
        for attribute in ("api_key", "_api_key", "auth_token", "_azure_ad_token"):
            _add(found, getattr(client, attribute, None))
        found |= header_secrets(getattr(client, "default_headers", None))
        base_url = getattr(client, "base_url", None)
        if base_url is not None:
            found |= url_secrets(str(base_url))
    except Exception:  # a client of a kind nobody knows: what was found so far
        pass
    return found


def url_secrets(url: str) -> set[str]:
    """The password (or bare token) of a URL's userinfo, and the values of its credential
    query parameters (``?key=...``, ``&sig=...``, ``?api_key=...``)."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        user, sep, password = userinfo.partition(":")
        _add(found, unquote(password if sep else user))
    for item in parts.query.split("&"):
        name, sep, value = item.partition("=")
        if sep and _is_secret_parameter(name):
            _add(found, value)
            _add(found, unquote(value))
    return found


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of credential-named environment variables (``OPENAI_API_KEY``,
    ``LITELLM_MASTER_KEY``, ``MLFLOW_TRACKING_TOKEN``...), of OTLP header lists, and passwords
    in URL-valued variables.

    Not configuration (that is read in :mod:`otel_bridge.config` only): the values are looked at
    so they can be masked in text the bridge writes, and only when such text is written.
    """
    env = os.environ if environ is None else environ
    found: set[str] = set()
    try:
        items = list(env.items())
    except Exception:
        return found
    for name, value in items:
        if not isinstance(value, str):
            continue
        if name.upper().endswith("_HEADERS"):
            found |= header_list_secrets(value)
        elif is_secret_name(name):
            _add(found, value)
        elif "://" in value:
            found |= url_secrets(value)
    return found


def litellm_module_secrets() -> set[str]:
    """Keys set on the ``litellm`` module (``litellm.api_key``, ``litellm.openai_key``, ...),
    if LiteLLM is imported."""
    found: set[str] = set()
    module = sys.modules.get("litellm")
    if module is None:
        return found
    try:
        names = list(vars(module).items())
    except Exception:
        return found
    for name, value in names:
        if isinstance(value, str) and is_secret_name(name):
            _add(found, value)
    return found


def ordered(secrets: Iterable[str]) -> tuple[str, ...]:
    """Longest first, so a secret containing another is replaced whole."""
    return tuple(sorted(set(secrets), key=len, reverse=True))


def process_secrets(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every credential this process knows of, plus ``extra``: for scrubbing exception text."""
    return ordered({*extra, *environment_secrets(), *litellm_module_secrets()})


def known_secrets(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """:func:`process_secrets` as read at most a second ago, plus ``extra``: for content, which
    is serialised once per call."""
    recent = _recent_process_secrets()
    extra = set(extra)
    return ordered({*extra, *recent}) if extra else recent


# --- URLs and header lists (printed configuration) ----------------------------------------


def mask_url(url: str) -> str:
    """The URL with its password (or a bare user token) and query values replaced by ***;
    also when it is not a URL Python can parse (``u:pw@host:4318`` without a scheme, a bad
    IPv6 address): for error messages about exactly such values."""
    return _masked_url(url, lambda _name: True, on_error=_mask_unparsed)


def redact_url(url: str) -> str:
    """For span attributes (an ``api_base``): like :func:`mask_url`, but only the query values
    that are credentials (``key=``, ``api_key=``, ``sig=``, ``token=``...) are masked, so an
    ``api-version`` stays readable."""
    return _masked_url(url, _is_secret_parameter, on_error=_mask_unparsed)


# what looks like userinfo (``[scheme://]user[:password]@``) in a text that is not a URL
_USERINFO = re.compile(
    r"^(?P<scheme>[^\s/?#@]*://)?(?P<user>[^\s/?#@:]*)(?P<password>:[^\s/?#@]*)?@"
)


def _mask_unparsed(text: str) -> str:
    def userinfo(match: re.Match[str]) -> str:
        scheme = match.group("scheme") or ""
        if match.group("password"):
            return f"{scheme}{match.group('user')}:{MASK}@"
        return f"{scheme}{MASK}@"

    text = _USERINFO.sub(userinfo, text, count=1)
    base, sep, query = text.partition("?")
    if sep:
        text = base + "?" + "&".join(f"{i.partition('=')[0]}={MASK}" for i in query.split("&"))
    return scrub_shapes(text)


def _masked_url(
    url: str, is_secret: Callable[[str], bool], *, on_error: Callable[[str], str]
) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return on_error(url)
    if "@" in url and "@" not in parts.netloc:  # "u:pw@host:4318": the scheme is "u"
        return on_error(url)
    if "@" not in parts.netloc and not parts.query:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{MASK}@{host}"
    query = "&".join(
        f"{item.partition('=')[0]}={MASK}"
        if "=" in item and is_secret(item.partition("=")[0])
        else item
        for item in parts.query.split("&")
        if item
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _is_secret_parameter(name: str) -> bool:
    name = unquote(name)
    return is_secret_name(name) or name.lower() in ("key", "sig", "code", "x-amz-credential")


def mask_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Header names kept, every value masked: for printing configuration."""
    return {str(name): MASK for name in headers}


# --- log lines -----------------------------------------------------------------------------

BRIDGE_LOGGER = "otel_bridge"
_SECRETS_TTL = 1.0  # seconds: log records come in bursts, the environment hardly changes
_recent_secrets: tuple[float, tuple[str, ...]] = (0.0, ())  # when read, what was read
_install_lock = threading.Lock()
_installed: list[bool] = []


def _recent_process_secrets() -> tuple[str, ...]:
    global _recent_secrets
    now = time.monotonic()
    read_at, secrets = _recent_secrets
    if now - read_at > _SECRETS_TTL:
        secrets = process_secrets()
        _recent_secrets = (now, secrets)
    return secrets


def scrub_record(record: logging.LogRecord) -> None:
    """The record's message (with its arguments), traceback and stack, scrubbed in place."""
    try:
        secrets = _recent_process_secrets()
        record.msg = scrub(record.getMessage(), secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
    except Exception:  # a log line must never break the code that logs it
        pass


def install_log_scrubbing() -> None:
    """Every record of a logger under ``otel_bridge`` is scrubbed as it is created, whichever
    module of the bridge logs it and whatever handler the application attached: the record
    factory is wrapped (chained, once per process); records of other loggers pass untouched."""
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()
        # Held by the closure: at interpreter exit this module's globals may already be None
        # while a library's __del__ still logs (aiohttp's unclosed sessions on Python 3.10).
        prefix, scrub_bridge_record = BRIDGE_LOGGER, scrub_record

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            name = record.name
            if name.startswith(prefix) and (len(name) == len(prefix) or name[len(prefix)] == "."):
                scrub_bridge_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed.append(True)
