"""HTTPS for the REST drivers (KEMP, F5): certificate and host name always verified (against
`ca_file`, else the system's trust store) unless the settings say `insecure: true`; bounded
time and size; failures as one-line BalancerErrors."""
from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

from exops.config import BalancerSettings
from exops.sources.loadbalancers.base import BalancerDriver, BalancerError, BalancerUnreachable

TIMEOUT = 10.0
MAX_BODY = 16 * 1024 * 1024


class RestClient:
    def __init__(self, url: str, *, ca_file: str | None = None, insecure: bool = False):
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise BalancerError(f"{url}: the balancer's API must be https:// (credentials travel with it)")
        self.url, self.host, self.port = url, parts.hostname or "", parts.port or 443
        self.context = ssl.create_default_context(cafile=ca_file)
        if insecure:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT, context=self.context)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read(MAX_BODY + 1)
        except ssl.SSLCertVerificationError as exc:
            raise BalancerUnreachable(f"{self.url}: certificate not trusted ({exc.verify_message}); "
                                      "give ca_file: for the balancer") from None
        except (OSError, http.client.HTTPException) as exc:
            raise BalancerUnreachable(f"{self.url}: {exc}") from None
        finally:
            conn.close()
        if len(data) > MAX_BODY:
            raise BalancerError(f"{self.url}{path.split('?')[0]}: answer over {MAX_BODY >> 20} MiB")
        return response.status, data


class RestDriver(BalancerDriver):
    """A balancer driven over HTTPS: drain, maintenance, ready and weight."""

    capabilities = frozenset({"drain", "maint", "ready", "weight"})

    def __init__(self, settings: BalancerSettings):
        super().__init__(settings)
        self.client = RestClient(settings.url or "", ca_file=settings.ca_file, insecure=settings.insecure)
