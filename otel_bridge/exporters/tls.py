"""A requests session whose own TLS settings win over the environment's.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace ``Session.verify`` on every
request (psf/requests#3829): on a machine that sets them (many images and corporate setups do)
a custom CA given as ``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`` or
``MLFLOW_TRACKING_SERVER_CERT_PATH`` would be ignored and the handshake fail. Here a CA path (or
``False``) set on the session is used; with ``True`` the environment's bundle still applies.
"""

from __future__ import annotations

from typing import Any

import requests


class TlsSession(requests.Session):
    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)
