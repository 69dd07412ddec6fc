"""moto's server over HTTP, standing in for Secrets Manager and Parameter Store.

boto3 reaches it through ``AWS_ENDPOINT_URL`` (:func:`aws_environment`), as it would reach AWS: no
client is patched. moto is the ``local`` extra's; it is imported only when a server starts.
"""

from __future__ import annotations

import importlib.util
import logging

from .network import free_port

REGION = "us-east-1"
LOCAL_EXTRA = "pip install 'bluegreen-rotation[local]'"


class MissingExtraError(RuntimeError):
    """moto is not installed: the local stand-ins come with the ``local`` extra."""


def moto_installed() -> bool:
    return importlib.util.find_spec("moto") is not None


def require_moto(what: str) -> None:
    """Fails with the install command when moto (the ``local`` extra) is missing, before ``what`` starts."""
    if not moto_installed():
        raise MissingExtraError(f"{what} needs moto, which the `local` extra installs: {LOCAL_EXTRA}")


class MotoServer:
    """moto's ThreadedMotoServer on a loopback port; boto3 reaches it through AWS_ENDPOINT_URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def reset(self) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):  # nosec B310
            pass

    def stop(self) -> None:
        self._server.stop()


def aws_environment(endpoint: str) -> dict[str, str]:
    """The variables that point plain boto3 clients at the emulator (contract: no custom variable)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105
        "AWS_SESSION_TOKEN": "testing",  # nosec B105
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
