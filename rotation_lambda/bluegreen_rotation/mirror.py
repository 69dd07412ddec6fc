"""The Parameter Store mirror: the flag and each color's writer and reader URLs.

One ``GetParameters`` call reads the whole mirror (flag with its modification time and version, and
the four decrypted URLs). Writes go URL first, flag last, so the flag never names a color whose URLs
are not tested credentials. This is one region's mirror; ``regional_mirror`` composes one per region
of a replicated secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen_db.naming import Color, ParameterNames, Role, parse_color

from .throttle import ThrottleRetry

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class MirrorState:
    names: ParameterNames
    flag_value: str | None
    flag_modified: datetime | None
    flag_version: int | None
    urls: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def flag(self) -> Color | None:
        """The flag's color; None when the flag is missing or holds something else."""
        if self.flag_value is None:
            return None
        try:
            return parse_color(self.flag_value)
        except ValueError:
            return None

    @property
    def flag_corrupt(self) -> bool:
        return self.flag_value is not None and self.flag is None

    def url(self, color: Color, role: Role) -> str | None:
        return self.urls.get(self.names.url(color, role))


class Mirror:
    """One region's mirror. ``retry``, when given, keeps retrying throttled writes within its budget
    (beyond botocore's own attempts); without it a throttled write fails once botocore gives up."""

    def __init__(
        self,
        client: SSMClient,
        names: ParameterNames,
        kms_key_id: str | None = None,
        retry: ThrottleRetry | None = None,
    ) -> None:
        self._client = client
        self.names = names
        self._kms_key_id = kms_key_id
        self._retry = retry

    def read(self) -> MirrorState:
        response = self._client.get_parameters(Names=self.names.all(), WithDecryption=True)
        values = {p["Name"]: p for p in response.get("Parameters", [])}
        flag = values.get(self.names.flag)
        return MirrorState(
            names=self.names,
            flag_value=flag["Value"] if flag else None,
            flag_modified=flag.get("LastModifiedDate") if flag else None,
            flag_version=flag.get("Version") if flag else None,
            urls={name: p["Value"] for name, p in values.items() if name != self.names.flag},
        )

    def write_url(self, color: Color, role: Role, url: str) -> None:
        kwargs: dict[str, object] = {
            "Name": self.names.url(color, role),
            "Value": url,
            "Type": "SecureString",
            "Overwrite": True,
            "Description": f"{color} {role} URL, written by the blue/green rotation function",
        }
        if self._kms_key_id:
            kwargs["KeyId"] = self._kms_key_id
        self._put(kwargs)

    def write_flag(self, color: Color) -> None:
        self._put(
            {
                "Name": self.names.flag,
                "Value": color,
                "Type": "String",
                "Overwrite": True,
                "Description": "color of AWSCURRENT, written last by the blue/green rotation function",
            }
        )

    def _put(self, kwargs: dict[str, Any]) -> None:
        if self._retry is None:
            self._client.put_parameter(**kwargs)
        else:
            self._retry.call(lambda: self._client.put_parameter(**kwargs))
