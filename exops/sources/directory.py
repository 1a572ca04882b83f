"""The live directory: Active Directory (or the lab's Samba AD) over LDAP with ldap3.

Transport is LDAPS, or LDAP upgraded with StartTLS, and the server's certificate is always
validated against `settings.ca_file` (else the system's trust store) with its host name checked,
whatever `insecure` says: a man in the middle with any other certificate would receive the bind
password. `insecure: true` only permits a plain `ldap://` transport, and every such connection
raises an `InsecureTransport` warning (the CLI prints it on stderr). Binds: simple (UPN,
DOMAIN\\user or DN), NTLM, or Kerberos (SASL GSSAPI, needs the `gssapi` package and a ticket).

Searches are paged (1,000 entries a page by default) and streamed: `collect()` folds recipients
into DirectoryFacts as pages arrive, so memory stays flat in the number of users, and it checks
for cancellation and reports progress between pages. Its two searches are read by ldap_stream
(`stream`): the next page is asked for while the current one is folded, and from Samba, whose
paging is expensive, the search is not paged at all (`unpaged`). The recipient scan, the one
search that grows with the directory, can also be split into disjoint uSNCreated ranges read on
several connections at once (`connections`, see ldap_partitions). Every value a caller supplies
goes into a filter through `escape_filter_chars`.

Failures surface as one-line typed errors (`DirectoryUnreachable`, `DirectoryAuthFailed`,
`DirectoryTLSError`, `DirectoryTimeout`, `ReferralError`...), never as ldap3 tracebacks.
"""
from __future__ import annotations

import math
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from ldap3 import (BASE, LEVEL, NONE, NTLM, SASL, SIMPLE, SUBTREE, Connection, KERBEROS,
                   Server, Tls)
from ldap3.core import exceptions as lx
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.conv import escape_filter_chars

from exops.config import DirectorySettings, secret
from exops.facts.directory import DirectoryFacts
from exops.facts.store import Facts
from exops.sources.entries import ATTRIBUTES, RECIPIENT_ATTRIBUTES, DirectoryFactsBuilder
from exops.sources.ldap_partitions import parallel_pages, usn_partitions
from exops.sources.ldap_stream import StreamCancelled, attribute_value, search_entry, stream_pages
from exops.errors import Cancelled, ExopsError
from exops.terminal import brief

PAGE_SIZE = 1000
SEARCH_CONNECTIONS = 1           # connections reading the recipient scan's partitions at once
PARTITIONS_PER_CONNECTION = 2    # so that a connection done early takes another partition
USN_SAMPLE = 500                 # recipients whose uSNCreated places the partitions' bounds
RECIPIENT_FILTER = "(&(legacyExchangeDN=*)(|(objectClass=user)(objectClass=contact)(objectClass=group)))"
SCOPES = {"base": BASE, "one": LEVEL, "level": LEVEL, "sub": SUBTREE, "subtree": SUBTREE}


class DirectoryError(ExopsError):
    """Anything that stops exops reading the directory; str() is one line meant for the user."""


class DirectoryUnreachable(DirectoryError):
    """No LDAP server answered at the configured address."""


class DirectoryAuthFailed(DirectoryError):
    """The server refused the credentials or the bind method."""


class DirectoryTLSError(DirectoryError):
    """TLS could not be set up: untrusted certificate, wrong name, missing CA file..."""


class DirectoryInsecure(DirectoryError):
    """Plain LDAP was asked for without `insecure: true`."""


class InsecureTransport(UserWarning):
    """A plain LDAP connection was opened because the settings say `insecure: true`."""


class DirectoryTimeout(DirectoryError):
    """The server stopped answering within the configured timeout."""


class ReferralError(DirectoryError):
    """The server holds no copy of the requested naming context and refers elsewhere."""


class ServerLimit(DirectoryError):
    """The server cut an unpaged search short (a size, time or administrative limit)."""


class DirectoryCancelled(DirectoryError, Cancelled):
    """The caller cancelled a long search between two pages."""


class Entry(NamedTuple):
    """One directory object: its DN and attributes (lower-case names, lists of str or bytes)."""

    dn: str
    attrs: dict[str, list]

    def first(self, name: str):
        values = self.attrs.get(name.lower())
        return values[0] if values else None


@dataclass(frozen=True)
class PageProgress:
    """Reported after each page: which search, how many entries and pages so far."""

    phase: str
    entries: int
    pages: int
    seconds: float


Cancel = threading.Event | None
ProgressHook = Callable[[PageProgress], None] | None


class DirectorySource:
    """One directory, one connection, opened on first use; a context manager closes it.

    A `Source`: it collects DirectoryFacts and offers the `ldap` executor that writes through the
    same connection.
    """

    provides = (DirectoryFacts,)

    def __init__(self, settings: DirectorySettings, password: str | None = None,
                 page_size: int = PAGE_SIZE, connections: int = SEARCH_CONNECTIONS,
                 unpaged: bool | None = None):
        self.settings = settings
        self.name = f"directory {settings.url}"
        self.page_size = page_size
        self.connections = connections
        self._password = password
        self._conn: Connection | None = None
        self._root: dict[str, list] = {}
        self._unpaged = unpaged     # None: decided by the server (`unpaged`)
        url = urlsplit(settings.url)
        self.scheme = url.scheme.lower()
        self.host = url.hostname or ""
        self.port = url.port or (636 if self.scheme == "ldaps" else 389)

    @classmethod
    def from_settings(cls, settings: DirectorySettings) -> DirectorySource:
        """The password comes from the environment variable the settings name, or a prompt."""
        password = secret(settings.password_env, f"the directory user {settings.user}") \
            if settings.user and settings.auth != "kerberos" else None
        return cls(settings, password)

    # ------------------------------------------------------------ connection

    def __enter__(self) -> DirectorySource:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> Connection:
        """The bound ldap3 connection, for writers; wrap calls in `directory_errors()`."""
        self.connect()
        return self._conn

    def connect(self) -> None:
        if self._conn is not None:
            return
        if self.scheme not in ("ldap", "ldaps"):
            raise DirectoryError(f"{self.settings.url}: expected ldaps://host or ldap://host")
        if "@" in urlsplit(self.settings.url).netloc:
            raise DirectoryError("the directory URL carries credentials; give the user as `user:` "
                                 "and the password through password_env (the URL is not shown)")
        plain = self.scheme == "ldap" and not self.settings.start_tls
        if plain and not self.settings.insecure:
            raise DirectoryInsecure(
                f"{self.settings.url}: plain LDAP sends the password in clear text; use ldaps://, "
                "start_tls: true, or set insecure: true to allow it")
        if plain:
            warnings.warn(InsecureTransport(
                f"{self.settings.url}: plain LDAP without TLS (insecure: true): the bind "
                "password and every answer cross the network in clear text"), stacklevel=2)
        conn = self._new_connection()
        try:
            with self.directory_errors():
                conn.open()
                if self.scheme == "ldap" and self.settings.start_tls:
                    conn.start_tls()
                if not conn.bind():
                    raise self._bind_error(conn)
        except DirectoryError:
            _quietly_unbind(conn)
            raise
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            _quietly_unbind(self._conn)
            self._conn = None

    def _new_connection(self) -> Connection:
        s = self.settings
        server = Server(self.host, port=self.port, use_ssl=self.scheme == "ldaps",
                        tls=self._tls(), connect_timeout=s.timeout, get_info=NONE)
        # ldap3 packs receive_timeout into SO_RCVTIMEO as whole seconds.
        options = dict(receive_timeout=max(1, math.ceil(s.timeout)), auto_referrals=False,
                       raise_exceptions=False, check_names=False, read_only=False)
        if s.auth == "kerberos":
            try:
                import gssapi  # noqa: F401  (ldap3 needs it for SASL GSSAPI)
            except ImportError:
                raise DirectoryError("Kerberos binds need the gssapi package: pip install gssapi") from None
            return _lean(Connection(server, authentication=SASL, sasl_mechanism=KERBEROS,
                                    user=s.user or None, **options))
        if s.auth == "ntlm":
            if not s.user or "\\" not in s.user:
                raise DirectoryAuthFailed(f"NTLM needs the user as DOMAIN\\name, got {s.user!r}")
            return _lean(Connection(server, authentication=NTLM, user=s.user,
                                    password=self._password, **options))
        if s.user and not self._password:
            raise DirectoryAuthFailed(
                f"no password for {s.user} (set ${s.password_env or 'EXOPS_LDAP_PASSWORD'})")
        return _lean(Connection(server, authentication=SIMPLE if s.user else None, user=s.user,
                                password=self._password, **options))

    def _tls(self) -> Tls | None:
        s = self.settings
        if self.scheme == "ldap" and not s.start_tls:
            return None
        try:  # never CERT_NONE: `insecure` permits plain LDAP, not unvalidated TLS
            return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=s.ca_file)
        except lx.LDAPSSLConfigurationError:
            raise DirectoryTLSError(f"the CA file {s.ca_file} does not exist or cannot be read") from None

    def _bind_error(self, conn: Connection) -> DirectoryError:
        result = conn.result or {}
        desc, message = result.get("description", ""), (result.get("message") or "").strip()
        who = self.settings.user or "anonymous"
        if desc == "invalidCredentials":
            return DirectoryAuthFailed(f"{self.settings.url}: the directory refused the credentials "
                                       f"of {who} (wrong user or password, or the account is locked)")
        if desc in ("strongerAuthRequired", "confidentialityRequired"):
            return DirectoryAuthFailed(f"{self.settings.url}: the server requires a protected bind "
                                       f"({desc}); use ldaps:// or start_tls: true")
        return DirectoryAuthFailed(f"{self.settings.url}: bind as {who} failed: {desc} {message}".strip())

    @contextmanager
    def directory_errors(self) -> Iterator[None]:
        """Turn ldap3 and socket failures into the typed errors above."""
        url, timeout = self.settings.url, self.settings.timeout
        try:
            yield
        except DirectoryError:
            raise
        except lx.LDAPSSLConfigurationError as exc:
            raise DirectoryTLSError(f"{url}: TLS configuration: {exc}") from None
        except (lx.LDAPCertificateError, lx.LDAPStartTLSError) as exc:
            raise self._tls_error(exc) from None
        except lx.LDAPResponseTimeoutError:
            raise DirectoryTimeout(f"{url}: no answer within {timeout:g} s") from None
        except lx.LDAPSocketOpenError as exc:
            raise self._open_error(exc) from None
        except lx.LDAPSocketReceiveError as exc:
            if "timed out" in str(exc).lower():
                raise DirectoryTimeout(f"{url}: no answer within {timeout:g} s") from None
            raise DirectoryUnreachable(f"{url}: the connection broke: {brief(exc)}") from None
        except (lx.LDAPSessionTerminatedByServerError, lx.LDAPSocketSendError,
                lx.LDAPSocketCloseError) as exc:
            raise DirectoryUnreachable(f"{url}: the server closed the connection: {brief(exc)}") from None
        except lx.LDAPPackageUnavailableError as exc:
            raise DirectoryError(f"{url}: {brief(exc)}") from None
        except lx.LDAPException as exc:
            raise DirectoryError(f"{url}: {type(exc).__name__}: {brief(exc)}") from None
        except OSError as exc:
            raise DirectoryUnreachable(f"{url}: {exc.strerror or exc}") from None

    def _open_error(self, exc: Exception) -> DirectoryError:
        text = str(exc)
        low = text.lower()
        if "timed out" in low:
            return DirectoryTimeout(f"{self.settings.url}: no answer within {self.settings.timeout:g} s "
                                    "(firewall, wrong host or port, or not an LDAP server?)")
        if "ssl" in low or "certificate" in low or "tls" in low:
            return self._tls_error(exc)
        if "invalid server address" in low or "name or service not known" in low \
                or "getaddrinfo" in low:
            return DirectoryUnreachable(f"{self.settings.url}: cannot resolve {self.host}")
        if "refused" in low:
            return DirectoryUnreachable(f"{self.settings.url}: connection refused on "
                                        f"{self.host}:{self.port} (is the DC up, is the port right?)")
        return DirectoryUnreachable(f"{self.settings.url}: cannot connect: {brief(exc)}")

    def _tls_error(self, exc: Exception) -> DirectoryTLSError:
        ca = self.settings.ca_file or "the system trust store"
        names = _certificate_names(self.host, self.port, self.scheme == "ldaps", self.settings.timeout)
        shown = (f"the server's certificate names {names}" if names
                 else "the server's certificate could not be read")
        reason = "untrusted certificate" if "verify failed" in str(exc).lower() else (
            "certificate does not match the host" if "match" in str(exc).lower() else brief(exc))
        return DirectoryTLSError(f"{self.settings.url}: TLS failed ({reason}) validating against {ca}; "
                                 f"{shown}")

    # ------------------------------------------------------------ reading

    def root_dse(self) -> dict[str, list]:
        if not self._root:
            attrs = ["defaultNamingContext", "configurationNamingContext", "rootDomainNamingContext",
                     "dnsHostName", "supportedControl", "vendorName"]
            entry = next(self.search("", "(objectClass=*)", attrs, scope="base"), None)
            self._root = entry.attrs if entry else {}
        return self._root

    @property
    def base_dn(self) -> str:
        if self.settings.base_dn:
            return self.settings.base_dn
        value = self.root_dse().get("defaultnamingcontext")
        if not value:
            raise DirectoryError(f"{self.settings.url}: the rootDSE names no defaultNamingContext; "
                                 "set base_dn in the configuration")
        return value[0]

    @property
    def configuration_dn(self) -> str:
        value = self.root_dse().get("configurationnamingcontext")
        return value[0] if value else f"CN=Configuration,{self.base_dn}"

    def search(self, base: str, filter: str = "(objectClass=*)",
               attributes: Sequence[str] = ("*",), scope: str | int = SUBTREE, *,
               cancel: Cancel = None, progress: ProgressHook = None,
               phase: str = "search") -> Iterator[Entry]:
        """Stream the entries of a paged search; `filter` must already be escaped.

        Continuation references inside a subtree (other naming contexts under the domain) are
        skipped; a referral for `base` itself raises ReferralError. A missing base yields nothing.
        """
        for page in self.pages(base, filter, attributes, scope, cancel=cancel, progress=progress,
                               phase=phase):
            yield from page
            page.clear()    # before the next page is read, so that only one is ever held

    def pages(self, base: str, filter: str = "(objectClass=*)",
              attributes: Sequence[str] = ("*",), scope: str | int = SUBTREE, *,
              cancel: Cancel = None, progress: ProgressHook = None,
              phase: str = "search", size_limit: int = 0) -> Iterator[list[Entry]]:
        """`search`, one list of entries per page; `size_limit` entries at most if not 0."""
        self.connect()
        conn, scope = self._conn, SCOPES.get(scope, scope) if isinstance(scope, str) else scope
        cookie, entries, pages, started = None, 0, 0, time.monotonic()
        paged = self.page_size if scope != BASE else None
        while True:
            if cancel is not None and cancel.is_set():
                raise DirectoryCancelled(f"{phase}: cancelled after {entries} entries")
            with self.directory_errors(), _lean_entries(conn):
                conn.search(base, filter, scope, attributes=list(attributes),
                            paged_size=paged, paged_cookie=cookie, size_limit=size_limit)
            result = conn.result or {}
            if not self._found(base, result.get("description"), result.get("message"),
                               result.get("referrals")):
                return
            # Taken before yielding (a caller may search on this connection meanwhile) and
            # dropped from the connection, so that only one page is ever held.
            response, conn.response = conn.response or [], None
            cookie = (result.get("controls") or {}).get("1.2.840.113556.1.4.319", {}) \
                .get("value", {}).get("cookie")
            page = [Entry(item["dn"], item["attributes"]) for item in response
                    if item["type"] == "searchResEntry"]
            response = None
            entries += len(page)
            yield page
            page = None
            pages += 1
            if progress is not None:
                progress(PageProgress(phase, entries, pages, time.monotonic() - started))
            if not paged or not cookie:
                return

    def _found(self, base: str, desc: str | None, message: str | None, referrals,
               unpaged: bool = False) -> bool:
        """Whether a search's result lets its entries stand (False: `base` does not exist);
        raises the typed error of a failed search, `ServerLimit` for an unpaged one the server
        cut short."""
        if desc == "noSuchObject":
            return False
        if desc == "referral":
            raise ReferralError(f"{self.settings.url}: {base} is not held by this server; it "
                                f"refers to {', '.join(referrals or ['another server'])}")
        if unpaged and desc in ("sizeLimitExceeded", "timeLimitExceeded", "adminLimitExceeded"):
            raise ServerLimit(f"{self.settings.url}: the server cut the unpaged search of {base} "
                              f"short ({desc})")
        if desc == "timeLimitExceeded":
            raise DirectoryTimeout(
                f"{self.settings.url}: the server's time limit ended the search of {base}")
        if desc not in ("success", "sizeLimitExceeded"):
            raise DirectoryError(f"{self.settings.url}: search of {base} failed: {desc} "
                                 f"{(message or '').strip()}".strip())
        return True

    @property
    def unpaged(self) -> bool:
        """Whether `stream` reads unpaged: only from Samba, which answers an unpaged search in
        full (up to its 256 MB reply limit) and pages expensively (its paged-results module
        collects every match first, then looks each one up again by GUID for its page: six
        times the server's time of an unpaged search at 10,000 users). Active Directory returns
        at most MaxPageSize entries (1,000) to an unpaged search, so it is paged."""
        if self._unpaged is None:
            vendor = self.root_dse().get("vendorname") or [""]
            self._unpaged = str(vendor[0]).startswith("Samba")
        return self._unpaged

    def stream(self, base: str, filter: str, attributes: Sequence[str], *, cancel: Cancel = None,
               progress: ProgressHook = None, phase: str = "search") -> Iterator[Entry]:
        """`search` for a scan that folds every entry as it comes (subtree, escaped filter).

        Read by ldap_stream: paged, the next page is asked for while this one is folded;
        `unpaged` where the server allows, in chunks of `page_size` entries. The connection is
        the stream's until it ends (a request is in flight while the caller holds an entry), and
        is closed if the stream is left early. An unpaged search the server cuts short, or that
        outlasts the timeout, is read again paged if nothing was handed over yet; otherwise
        `ServerLimit` is raised (collect starts over, paged).
        """
        for page in self._stream_pages(base, filter, attributes, cancel=cancel,
                                       progress=progress, phase=phase):
            yield from page
            page.clear()

    def _stream_pages(self, base: str, filter: str, attributes: Sequence[str], *,
                      cancel: Cancel = None, progress: ProgressHook = None,
                      phase: str = "search") -> Iterator[list[Entry]]:
        unpaged = self.unpaged
        self.connect()
        entries, pages, started, finished = 0, 0, time.monotonic(), False

        def done(result) -> bool:
            return self._found(base, result.description, result.message, result.referrals,
                               unpaged)
        try:
            with self.directory_errors():
                for raw in stream_pages(self._conn, search_entry, base, filter, SUBTREE,
                                        attributes, None if unpaged else self.page_size,
                                        self.page_size, done, cancel, self.settings.timeout):
                    if cancel is not None and cancel.is_set():
                        raise DirectoryCancelled(f"{phase}: cancelled after {entries} entries")
                    page = [Entry(dn, attrs) for dn, attrs in raw]
                    raw = None
                    entries, pages = entries + len(page), pages + 1
                    yield page
                    page = None
                    if progress is not None:
                        progress(PageProgress(phase, entries, pages, time.monotonic() - started))
            finished = True
        except StreamCancelled:
            raise DirectoryCancelled(f"{phase}: cancelled after {entries} entries") from None
        except (ServerLimit, DirectoryTimeout) as exc:
            # An unpaged search is silent until the server is done: a big one may outlast
            # the timeout that a page would not. Either way, paging is the answer.
            self.close()
            if not unpaged:
                raise
            if entries:
                raise ServerLimit(str(exc)) from None
            self._unpaged, finished = False, True
            yield from self._stream_pages(base, filter, attributes, cancel=cancel,
                                          progress=progress, phase=phase)
        finally:
            if not finished:
                self.close()     # a response is still on the wire

    def read(self, dn: str, attributes: Sequence[str] = ("*",)) -> Entry | None:
        return next(self.search(dn, "(objectClass=*)", attributes, scope="base"), None)

    def recipients_with_prefix(self, prefix: str, attributes: Sequence[str] = ATTRIBUTES,
                               cancel: Cancel = None, progress: ProgressHook = None,
                               narrow: str = "") -> Iterator[Entry]:
        """Recipients whose legacyExchangeDN lies under `/o=<Org>/ou=<AG>`, any letter case.

        The trailing `/` keeps `/ou=First Administrative Group 2` out of `/ou=First
        Administrative Group`; the AG object itself (exactly the prefix) is not a recipient.
        `narrow` is an admin's own, already validated, filter expression ANDed to the search.
        """
        value = escape_filter_chars(prefix.strip().rstrip("/") + "/")
        query = (f"(&(legacyExchangeDN={value}*)"
                 f"(|(objectClass=user)(objectClass=contact)(objectClass=group)){narrow})")
        yield from self.search(self.base_dn, query, attributes, cancel=cancel, progress=progress,
                               phase="recipients")

    def legacy_dns_in_use(self, values: Sequence[str], batch: int = 50) -> dict[str, str]:
        """{folded value: DN of the object that has it} for values some object already carries,
        as its legacyExchangeDN or as an X500 proxy address (asked 50 values a search)."""
        values = list(values)
        found: dict[str, str] = {}
        for start in range(0, len(values), batch):
            terms = "".join(f"(legacyExchangeDN={escape_filter_chars(v)})"
                            f"(proxyAddresses=X500:{escape_filter_chars(v)})" for v in values[start:start + batch])
            for entry in self.search(self.base_dn, f"(|{terms})", ("legacyExchangeDN", "proxyAddresses"),
                                     phase="uniqueness"):
                for value in [*entry.attrs.get("legacyexchangedn", []),
                              *(str(p)[5:] for p in entry.attrs.get("proxyaddresses", [])
                                if str(p)[:5].upper() == "X500:")]:
                    found.setdefault(value.casefold().strip(), entry.dn)
        return found

    def recipient_partitions(self, base: str) -> list[str]:
        """Filter clauses that split the recipients under `base` into uSNCreated ranges of about
        the same size, cut from the USNs of the first USN_SAMPLE recipients the server returns."""
        first = next(self.pages(base, RECIPIENT_FILTER, ["uSNCreated"], size_limit=USN_SAMPLE,
                                phase="recipients"), [])
        sample = [int(usn) for entry in first for usn in entry.attrs.get("usncreated", ())
                  if str(usn).isdigit()]
        return usn_partitions(sample, self.connections * PARTITIONS_PER_CONNECTION)

    def collect(self, *, cancel: Cancel = None, progress: ProgressHook = None) -> DirectoryFacts:
        """The Exchange configuration and every recipient with a legacyExchangeDN, as facts."""
        base = self.base_dn
        if self.read(base, ["objectClass"]) is None:
            raise DirectoryError(f"{self.settings.url}: the base DN {base} does not exist on this "
                                 "server (check base_dn, or leave it out to use the domain's)")
        try:
            return self._collect(base, cancel, progress)
        except ServerLimit:     # cut short after some recipients were folded: again, paged
            self._unpaged = False
            return self._collect(base, cancel, progress)

    def _collect(self, base: str, cancel: Cancel, progress: ProgressHook) -> DirectoryFacts:
        builder = DirectoryFactsBuilder(source=self.settings.url, base_dn=base)
        exchange = f"CN=Microsoft Exchange,CN=Services,{self.configuration_dn}"
        for entry in self.stream(exchange, "(objectClass=*)", ATTRIBUTES, cancel=cancel,
                                 progress=progress, phase="configuration"):
            builder.add(entry.dn, entry.attrs)
        for entry in self.recipients(base, cancel=cancel, progress=progress):
            builder.add(entry.dn, entry.attrs)
        return builder.facts()

    def recipients(self, base: str, *, cancel: Cancel = None,
                   progress: ProgressHook = None) -> Iterator[Entry]:
        """Every recipient with a legacyExchangeDN under `base`, in no particular order, with
        the RECIPIENT_ATTRIBUTES the facts are made of.

        One search on this connection by default. With `connections` above 1 the search is split
        into the `recipient_partitions`, read on that many connections at once, each bound and
        TLS-validated like this one (see ldap_partitions). Not the default: on Samba, whose index
        does not serve uSNCreated ranges, every partition costs the server another pass over
        all the recipients, and two or four connections measured slower than one
        (docs/performance.md).
        """
        partitions = self.recipient_partitions(base) if self.connections > 1 else []
        if not partitions:
            yield from self.stream(base, RECIPIENT_FILTER, RECIPIENT_ATTRIBUTES, cancel=cancel,
                                   progress=progress, phase="recipients")
            return

        def read(clauses: Iterable[str], stop: threading.Event) -> Iterator[list[Entry]]:
            with DirectorySource(self.settings, self._password, self.page_size, 1,
                                 self._unpaged) as own:
                for clause in clauses:
                    yield from own._stream_pages(base, f"(&{RECIPIENT_FILTER}{clause})",
                                                 RECIPIENT_ATTRIBUTES, cancel=stop,
                                                 phase="recipients")

        entries, pages, started = 0, 0, time.monotonic()
        for page in parallel_pages(read, partitions, self.connections, cancel):
            yield from page
            entries, pages = entries + len(page), pages + 1
            if progress is not None:
                progress(PageProgress("recipients", entries, pages, time.monotonic() - started))
        if cancel is not None and cancel.is_set():
            raise DirectoryCancelled(f"recipients: cancelled after {entries} entries")


    def facts(self, *, cancel: Cancel = None, progress: Callable[[str], None] | None = None) -> Facts:
        def paged(page: PageProgress) -> None:
            progress(f"reading the directory: {page.phase}, {page.entries:,} entries")
        return Facts(self.collect(cancel=cancel, progress=paged if progress else None))

    def executors(self) -> dict:
        from exops.sources.directory_writer import LdapExecutor
        return {"ldap": LdapExecutor(self)}


def sources_from_config(config) -> list[DirectorySource]:
    """The `directory` section's source (entry point `exops.sources: directory`)."""
    return [DirectorySource.from_settings(config.directory)]


class _LeanSyncStrategy(SyncStrategy):
    """ldap3's synchronous strategy that, inside `_lean_entries`, decodes search entries once.

    ldap3 turns every entry into both `raw_attributes` and formatted `attributes` (with a
    configuration lookup per value): two thirds of the client's time in a large scan. In lean
    mode a searchResEntry becomes {"type", "dn", "attributes"} with lower-case attribute names and
    values as str (bytes when not UTF-8: GUIDs, SIDs), read straight from the message's bytes
    (`search_entry`: ldap3's generic BER decoder was half of what remained). `receiving` sets
    those entries aside and hands ldap3 only the other messages (the search's done message,
    referrals, notices), which it handles as usual; `_get_response` puts the entries back in
    front of the done message. Relies on ldap3 2.9's strategy layout (`receiving`,
    `_get_response`, `decode_response_fast`); outside lean mode (writers using `connection`)
    nothing changes.
    """

    lean = False
    _entries: list = []

    def receiving(self):
        if not self.lean:
            return super().receiving()
        while True:
            messages = super().receiving()
            others = []
            for raw in messages:
                entry = search_entry(raw)
                if entry is None:
                    others.append(raw)
                else:
                    self._entries.append(entry)
            if others or not messages:   # nothing at all: ldap3 reports the closed session
                return others

    def _get_response(self, message_id, timeout):
        if not self.lean:
            return super()._get_response(message_id, timeout)
        self._entries = []
        responses = super()._get_response(message_id, timeout)
        entries, self._entries = self._entries, []
        if not isinstance(responses, list):
            return responses
        if any(number != message_id for number, _ in entries):
            raise lx.LDAPSocketReceiveError("invalid messageId received")
        return [entry for _, entry in entries] + responses

    def decode_response_fast(self, ldap_message):
        if not self.lean or ldap_message["protocolOp"] != 4:
            return super().decode_response_fast(ldap_message)
        payload = ldap_message["payload"]
        attributes = {}
        for attribute in payload[1][3]:
            name, values = attribute[3][0][3], attribute[3][1][3]
            attributes[name.decode("utf-8").lower()] = [attribute_value(v[3]) for v in values]
        return {"type": "searchResEntry", "dn": payload[0][3].decode("utf-8"),
                "attributes": attributes}


def _lean(conn: Connection) -> Connection:
    """Swap in the lean strategy (before the connection opens); see _LeanSyncStrategy."""
    strategy = _LeanSyncStrategy(conn)
    conn.strategy = strategy
    conn.send, conn.open, conn.get_response = strategy.send, strategy.open, strategy.get_response
    conn.post_send_single_response = strategy.post_send_single_response
    conn.post_send_search = strategy.post_send_search
    return conn


@contextmanager
def _lean_entries(conn: Connection) -> Iterator[None]:
    """Lean decoding for one search; ldap3's empty-attribute and range post-processing need
    `raw_attributes`, so they are off meanwhile (exops reads absent attributes with .get, and
    none of its attributes are long enough for ranged retrieval)."""
    saved = conn.empty_attributes, conn.auto_range
    conn.strategy.lean, conn.empty_attributes, conn.auto_range = True, False, False
    try:
        yield
    finally:
        conn.strategy.lean = False
        conn.empty_attributes, conn.auto_range = saved


def _quietly_unbind(conn: Connection) -> None:
    try:
        conn.unbind()
    except (lx.LDAPException, OSError):
        pass


def _certificate_names(host: str, port: int, implicit_tls: bool, timeout: float) -> str | None:
    """The subject CN and subjectAltNames of the server's certificate, read without trusting it."""
    if not implicit_tls:
        return None     # after StartTLS the certificate would need an LDAP exchange first
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    cert = x509.load_der_x509_certificate(der)
    names = [f"CN={a.value}" for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
        names += [f"IP:{n}" for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names.append("(no subjectAltName)")
    return ", ".join(names)
