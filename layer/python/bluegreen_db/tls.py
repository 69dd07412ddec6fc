"""TLS between consumers and the database: the rotation function's four modes, under ``BLUEGREEN_``.

=============  ==================================================================================
mode           what the client checks
=============  ==================================================================================
disable        nothing: plaintext (only for a database that serves no TLS, e.g. local tests)
require        TLS is mandatory, the certificate is not checked (encrypts against passive sniffing)
verify-ca      TLS, and the certificate chains to the CA bundle
verify-full    TLS, the chain, and the host name (the default)
=============  ==================================================================================

Settings, most specific first (explicit beats environment, as in Powertools):

1. the consumer's ``tls_mode`` / ``tls_ca_file`` arguments;
2. a URL's own ``?ssl_mode=`` / ``?ssl_ca=`` options (see :mod:`bluegreen_db.dburl`);
3. ``BLUEGREEN_DB_TLS_MODE`` / ``BLUEGREEN_DB_TLS_CA_FILE``;
4. ``verify-full`` with the system CA bundle.

Why ``verify-full`` by default: it is the function's default (``DB_TLS_MODE``), and anything weaker
lets whoever can answer on the database's address collect the password. Aurora's certificates are
signed by the RDS CAs, which the system bundle lacks: set ``BLUEGREEN_DB_TLS_CA_FILE`` to the RDS
bundle (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.SSL.html), for
example shipped in the layer at ``/opt/certs/global-bundle.pem`` (docs/deploy.md).

Never plaintext by surprise: every mode but ``disable`` gives the driver an ``SSLContext`` (PyMySQL,
aiomysql) or the libpq ``sslmode`` of the same name (psycopg, never ``prefer``/``allow``), and each
driver module (:mod:`bluegreen_db.drivers`) makes sure the connection it returns is encrypted:
PyMySQL's socket or libpq's ``ssl_in_use`` is checked on every new connection, and aiomysql refuses
a server without TLS before authenticating.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import ssl

TlsMode = Literal["disable", "require", "verify-ca", "verify-full"]
TLS_MODES: tuple[TlsMode, ...] = ("disable", "require", "verify-ca", "verify-full")
DEFAULT_TLS_MODE: TlsMode = "verify-full"
TLS_MODE_ENV = "BLUEGREEN_DB_TLS_MODE"
TLS_CA_FILE_ENV = "BLUEGREEN_DB_TLS_CA_FILE"

# MySQL's own --ssl-mode spellings (and libpq's) accepted in a URL's ?ssl_mode=, mapped to ours.
_ALIASES: dict[str, TlsMode] = {
    "disable": "disable",
    "disabled": "disable",
    "require": "require",
    "required": "require",
    "verify-ca": "verify-ca",
    "verify_ca": "verify-ca",
    "verify-full": "verify-full",
    "verify_full": "verify-full",
    "verify_identity": "verify-full",
    "verify-identity": "verify-full",
}


def parse_tls_mode(value: str, source: str) -> TlsMode:
    """A mode from any accepted spelling; anything else is refused naming ``source``."""
    mode = _ALIASES.get(value.strip().lower())
    if mode is None:
        raise ValueError(f"{source} must be one of {', '.join(TLS_MODES)}, not {value!r}")
    return mode


@dataclass(frozen=True)
class TlsSettings:
    """A resolved mode and CA bundle; :meth:`context` builds (and caches) the client context."""

    mode: TlsMode = DEFAULT_TLS_MODE
    ca_file: str | None = None

    @classmethod
    def resolve(
        cls,
        mode: str | None = None,
        ca_file: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> TlsSettings:
        env = os.environ if environ is None else environ
        if mode is not None:
            resolved = parse_tls_mode(mode, "tls_mode")
        elif env.get(TLS_MODE_ENV, "").strip():
            resolved = parse_tls_mode(env[TLS_MODE_ENV], TLS_MODE_ENV)
        else:
            resolved = DEFAULT_TLS_MODE
        ca = ca_file if ca_file is not None else (env.get(TLS_CA_FILE_ENV, "").strip() or None)
        settings = cls(resolved, ca or None)
        settings.check()
        return settings

    def check(self) -> None:
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise ValueError(f"the TLS CA file {self.ca_file!r} does not exist ({TLS_CA_FILE_ENV}, ssl_ca)")

    def override(self, mode: TlsMode | None, ca_file: str | None) -> TlsSettings:
        """These settings with a URL's own options applied over them."""
        if mode is None and ca_file is None:
            return self
        settings = TlsSettings(mode or self.mode, ca_file or self.ca_file)
        settings.check()
        return settings

    def context(self) -> ssl.SSLContext | None:
        """The client context; ``None`` only for ``disable``."""
        return client_context(self.mode, self.ca_file)


@functools.lru_cache(maxsize=16)
def client_context(mode: TlsMode, ca_file: str | None) -> ssl.SSLContext | None:
    """The client context of a mode, shared by consumers and the rotation function; ``None`` only for
    ``disable``. Cached: loading a CA bundle costs tens of milliseconds, one context serves every
    connection of the process."""
    import ssl

    if mode == "disable":
        return None
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == "require":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def has_own_tls(params: Mapping[str, Any]) -> bool:
    """Whether connect arguments carry the caller's own TLS options (PyMySQL's ``ssl``/``ssl_*``,
    libpq's ``sslmode``/``sslrootcert``/``sslcert``...), which then replace the consumer's settings."""
    return any(k.startswith("ssl") for k in params)
