"""Where snapshots come from: one ``GetParameters`` call for the flag and the four URLs.

:class:`ParameterSource` reads the five parameters of a prefix in a single call
(``WithDecryption=True``), so the flag and the URLs always come from the same moment, and turns
botocore's errors into :class:`~bluegreen_db.errors.ParameterStoreError` subclasses that name the
fix (:func:`~bluegreen_db.errors.from_aws_error`).

Retries and throttling are botocore's own: the client is built with
``Config(retries={"mode": "standard" | "adaptive"})``, so ``ThrottlingException`` backs off with jitter
(``adaptive`` adds client-side rate limiting for large fleets), and with connect and read timeouts
(3 s and 5 s) so that an attempt never hangs on a dead socket.

The boto3 client is built on first use (no import cost until the first refresh) and never shared by
two processes: ``os.register_at_fork`` drops it in a forked child (its keep-alive connections would
be the parent's, and replies could cross), which builds its own on its next call. A client the
caller passed in is rebuilt there from its region, endpoint and ``Config``, with the default
credential chain.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bluegreen_db.errors import from_aws_error
from bluegreen_db.naming import ParameterNames
from bluegreen_db.settings import RetryMode
from bluegreen_db.snapshot import Snapshot

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_ssm import SSMClient

BOTO_CONNECT_TIMEOUT = 3
BOTO_READ_TIMEOUT = 5

# Every live source, so that a forked child can drop their clients (see _after_fork_in_child).
_sources: weakref.WeakSet[ParameterSource] = weakref.WeakSet()


class ParameterSource:
    """Reads one prefix's blue/green parameters from Parameter Store; thread-safe and fork-safe.

    :param client: an SSM client to use instead of building one (its configuration is kept).
    :param client_factory: builds the SSM client (first use, and again in every forked child).
    :param max_attempts: botocore's ``total_max_attempts``; ``None`` leaves it to botocore
        (``AWS_MAX_ATTEMPTS``).
    :param boto_config: extra botocore ``Config`` merged over the defaults.
    """

    def __init__(
        self,
        names: ParameterNames,
        *,
        retry_mode: RetryMode = "standard",
        max_attempts: int | None = None,
        boto_config: Config | None = None,
        client: SSMClient | None = None,
        client_factory: Callable[[], SSMClient] | None = None,
    ) -> None:
        self.names = names
        self._retry_mode = retry_mode
        self._max_attempts = max_attempts
        self._boto_config = boto_config
        self._client = client
        self._client_given = client is not None
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._calls = 0
        _sources.add(self)

    @property
    def calls(self) -> int:
        """How many GetParameters calls this source has made (botocore's retries not counted)."""
        return self._calls

    @property
    def client(self) -> SSMClient:
        """The SSM client, built on first use."""
        with self._lock:
            return self._client_locked()

    def fetch(self) -> Snapshot:
        """One GetParameters call (no lock held during it): the snapshot the values describe.

        botocore's errors are raised as :class:`~bluegreen_db.errors.ParameterStoreError`
        subclasses, the original chained as ``__cause__``.
        """
        names = self.names
        try:
            with self._lock:
                client = self._client_locked()  # building it may fail too (no region, no credentials)
                self._calls += 1
            response = client.get_parameters(Names=names.all(), WithDecryption=True)
        except Exception as exc:
            mapped = from_aws_error(exc, names.prefix)
            if mapped is None:
                raise
            raise mapped from exc
        values = {
            p["Name"]: p["Value"] for p in response.get("Parameters", []) if "Name" in p and "Value" in p
        }
        return Snapshot.from_values(values, names)

    def _client_locked(self) -> SSMClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                self._client = self._build_client()
        return self._client

    def _build_client(self, like: Any = None) -> SSMClient:
        import boto3  # lazy: no boto3 import cost until the first refresh

        if like is not None:  # a caller's client, rebuilt after a fork: same region, endpoint, config
            return boto3.session.Session().client(
                "ssm",
                region_name=like.meta.region_name,
                endpoint_url=like.meta.endpoint_url,
                config=like.meta.config,
            )
        from botocore.config import Config

        config = Config(
            retries={"mode": self._retry_mode},
            connect_timeout=BOTO_CONNECT_TIMEOUT,
            read_timeout=BOTO_READ_TIMEOUT,
        )
        if self._max_attempts is not None:
            config = config.merge(
                Config(retries={"mode": self._retry_mode, "total_max_attempts": self._max_attempts})
            )
        if self._boto_config is not None:
            config = config.merge(self._boto_config)
        return boto3.session.Session().client("ssm", config=config)

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child only: the parent's client (and its sockets) is never used here."""
        self._lock = threading.Lock()
        parent_client, self._client = self._client, None
        if parent_client is not None and self._client_given and self._client_factory is None:
            self._client_factory = lambda: self._build_client(like=parent_client)


def _after_fork_in_child() -> None:
    for source in list(_sources):
        source._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)
