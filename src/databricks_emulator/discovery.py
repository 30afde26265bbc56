"""Who and where this workspace is: host metadata, OIDC discovery, an OAuth token endpoint and the current user.

``WorkspaceClient`` asks ``/.well-known/databricks-config`` at construction (and blocks for minutes when nobody
answers); OAuth credential strategies also read the OIDC document and post to the token endpoint.
"""

from __future__ import annotations

from typing import Any

from .http import HttpApp, Request
from .workspace import Workspace

DEFAULT_USER_NAME = "emulator-user@example.com"
_USER_ID = "4815162342000001"


def current_user_name(workspace: Workspace) -> str:
    """The user the workspace answers as (``workspace.extensions["user_name"]`` overrides the default)."""
    return str(workspace.extensions.get("user_name", DEFAULT_USER_NAME))


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the discovery, OIDC and SCIM ``Me`` routes."""
    router = app.router

    @router.route("GET", "/.well-known/databricks-config")
    def host_metadata(request: Request) -> dict[str, Any]:
        return {
            "oidc_endpoint": f"{_base(workspace, request)}/oidc",
            "workspace_id": str(workspace.workspace_id),
            "cloud": "aws",
        }

    @router.route("GET", "/oidc/.well-known/oauth-authorization-server")
    def oidc_configuration(request: Request) -> dict[str, Any]:
        base = _base(workspace, request)
        return {
            "issuer": f"{base}/oidc",
            "authorization_endpoint": f"{base}/oidc/v1/authorize",
            "token_endpoint": f"{base}/oidc/v1/token",
            "jwks_uri": f"{base}/oidc/jwks.json",
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "scopes_supported": ["all-apis", "offline_access"],
        }

    @router.route("POST", "/oidc/v1/token")
    def token(request: Request) -> dict[str, Any]:
        return {"access_token": app.token or "", "token_type": "Bearer", "expires_in": 3600, "scope": "all-apis"}

    @router.route("GET", "/api/2.0/preview/scim/v2/Me")
    def me(request: Request) -> dict[str, Any]:
        user_name = current_user_name(workspace)
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": _USER_ID,
            "userName": user_name,
            "displayName": user_name.split("@", 1)[0],
            "active": True,
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "groups": [{"display": "users", "value": "1000000000000001", "type": "direct"}],
            "entitlements": [{"value": "workspace-access"}, {"value": "allow-cluster-create"}],
        }


def _base(workspace: Workspace, request: Request) -> str:
    if workspace.host:
        return workspace.host
    return f"http://{request.headers.get('host', '127.0.0.1')}"
