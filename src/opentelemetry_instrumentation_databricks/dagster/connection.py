"""The resource's settings checked and turned into ``databricks.sql.connect`` and ``databricks.sdk.Config`` keywords.

Every check runs before any Databricks call and names the field at fault (:class:`ResourceSettingError`).
Authentication: a personal access token (``access_token``), an OAuth service principal (``client_id`` and
``client_secret``), or anything else databricks-sdk supports (``profile`` from ``~/.databrickscfg`` and/or
``auth_type``, e.g. ``azure-cli``, ``databricks-cli``, ``github-oidc``); the SQL connector then authenticates
through the SDK's credentials. A plain ``http://`` workspace URL is a local server (the emulator): the connector
goes there over plain HTTP and without its telemetry.

Usage::

    settings = ConnectionSettings.check(workspace_url="https://adb-1.7.azuredatabricks.net", host=None,
                                        access_token=token, warehouse_id="abc123")
    sql.connect(**settings.sql_connect_kwargs())
    WorkspaceClient(config=Config(**settings.sdk_config_kwargs()))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..sql.connection import warehouse_id_of

_WAREHOUSE_HTTP_PATH = "/sql/1.0/warehouses/{}"
_WHITESPACE = re.compile(r"\s")


class ResourceSettingError(ValueError):
    """A missing or malformed resource setting; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _given(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _workspace_url(workspace_url: str | None, host: str | None) -> str:
    url, alias = _given(workspace_url), _given(host)
    if url and alias and url.rstrip("/") != alias.rstrip("/"):
        raise ResourceSettingError(
            "host", f"is an alias of workspace_url but names another workspace ({alias!r} vs {url!r}); set one"
        )
    url = url or alias
    if url is None:
        raise ResourceSettingError(
            "workspace_url", "is required: the workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net"
        )
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or _WHITESPACE.search(url):
        raise ResourceSettingError(
            "workspace_url", f"{url!r} is not a workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _secret(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if _WHITESPACE.search(value):
        raise ResourceSettingError(name, "contains whitespace (a trailing newline from a secret file?)")
    return value


@dataclass(frozen=True)
class ConnectionSettings:
    """Checked settings of one workspace; see the module docstring."""

    workspace_url: str
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    profile: str | None = None
    auth_type: str | None = None
    http_path: str | None = None
    extra_sql_connect_kwargs: Mapping[str, Any] = field(default_factory=dict)
    extra_sdk_config_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def check(
        cls,
        *,
        workspace_url: str | None,
        host: str | None = None,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        profile: str | None = None,
        auth_type: str | None = None,
        http_path: str | None = None,
        warehouse_id: str | None = None,
        sql_connect_kwargs: Mapping[str, Any] | None = None,
        workspace_client_kwargs: Mapping[str, Any] | None = None,
    ) -> ConnectionSettings:
        url = _workspace_url(workspace_url, host)
        token = _secret("access_token", access_token)
        client_id = _given(client_id)
        client_secret = _secret("client_secret", client_secret)
        profile, auth_type = _given(profile), _given(auth_type)
        if client_id and not client_secret:
            raise ResourceSettingError("client_secret", "is required with client_id (an OAuth service principal)")
        if client_secret and not client_id:
            raise ResourceSettingError("client_id", "is required with client_secret (an OAuth service principal)")
        if token and client_id:
            raise ResourceSettingError(
                "access_token", "and client_id/client_secret are two ways to authenticate: set only one"
            )
        if not (token or client_id or profile or auth_type):
            raise ResourceSettingError(
                "access_token",
                "no credentials: set access_token (a personal access token), or client_id and client_secret "
                "(a service principal), or profile/auth_type for any other databricks-sdk authentication",
            )
        return cls(
            workspace_url=url,
            access_token=token,
            client_id=client_id,
            client_secret=client_secret,
            profile=profile,
            auth_type=auth_type,
            http_path=_http_path(_given(http_path), _given(warehouse_id)),
            extra_sql_connect_kwargs=dict(sql_connect_kwargs or {}),
            extra_sdk_config_kwargs=dict(workspace_client_kwargs or {}),
        )

    @property
    def is_local(self) -> bool:
        return self.workspace_url.startswith("http://")

    def sdk_config_kwargs(self) -> dict[str, Any]:
        """Keywords for ``databricks.sdk.config.Config``."""
        kwargs: dict[str, Any] = {"host": self.workspace_url}
        if self.access_token:
            kwargs["token"] = self.access_token
            kwargs["auth_type"] = self.auth_type or "pat"
        elif self.client_id:
            kwargs["client_id"] = self.client_id
            kwargs["client_secret"] = self.client_secret
        if self.profile:
            kwargs["profile"] = self.profile
        if self.auth_type and "auth_type" not in kwargs:
            kwargs["auth_type"] = self.auth_type
        kwargs.update(self.extra_sdk_config_kwargs)
        return kwargs

    def sql_connect_kwargs(self, sdk_config: Callable[[], Any] | None = None) -> dict[str, Any]:
        """Keywords for ``databricks.sql.connect``; ``sdk_config`` builds the SDK ``Config`` for non-token auth."""
        if self.http_path is None:
            raise ResourceSettingError(
                "http_path", "or warehouse_id is required for get_sql_client(): the SQL warehouse to connect to"
            )
        parts = urlsplit(self.workspace_url)
        kwargs: dict[str, Any] = {"server_hostname": parts.hostname, "http_path": self.http_path}
        if parts.port is not None and not self.is_local:
            kwargs["_port"] = parts.port
        if self.access_token:
            kwargs["access_token"] = self.access_token
        else:
            if sdk_config is None:
                raise ResourceSettingError("access_token", "is required unless an SDK configuration is given")
            kwargs["credentials_provider"] = SdkCredentials(sdk_config)
        if self.is_local:
            kwargs["_connection_uri"] = f"{self.workspace_url}{self.http_path}"
            kwargs["enable_telemetry"] = False
        kwargs.update(self.extra_sql_connect_kwargs)
        return kwargs


def _http_path(http_path: str | None, warehouse_id: str | None) -> str | None:
    if http_path is not None:
        if not http_path.startswith("/"):
            raise ResourceSettingError("http_path", f"{http_path!r} must start with '/', e.g. /sql/1.0/warehouses/<id>")
        in_path = warehouse_id_of(http_path)
        if warehouse_id is not None and in_path != warehouse_id:
            raise ResourceSettingError(
                "warehouse_id", f"{warehouse_id!r} is not the warehouse of http_path {http_path!r}; set one of them"
            )
        return http_path
    if warehouse_id is not None:
        if "/" in warehouse_id or _WHITESPACE.search(warehouse_id):
            raise ResourceSettingError("warehouse_id", f"{warehouse_id!r} is not a SQL warehouse id")
        return _WAREHOUSE_HTTP_PATH.format(warehouse_id)
    return None


class SdkCredentials:
    """A connector ``credentials_provider`` that authenticates with the SDK's configuration (any SDK auth)."""

    def __init__(self, sdk_config: Callable[[], Any]) -> None:
        self._sdk_config = sdk_config

    def auth_type(self) -> str:
        return "databricks-sdk"

    def __call__(self, *args: Any, **kwargs: Any) -> Callable[[], dict[str, str]]:
        return self._sdk_config().authenticate
