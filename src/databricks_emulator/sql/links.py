"""Result files behind expiring download links, as cloud fetch and ``EXTERNAL_LINKS`` serve them.

A real warehouse writes large results to cloud storage and hands out presigned URLs; the emulator keeps the
file bytes in memory and serves them at ``GET /emulator/v1/result-files/{token}`` on its own HTTP server. As
with a presigned URL the unguessable token is the credential: the request needs no ``Authorization`` header
(clients must not send one). A link expires :attr:`ResultFiles.lifetime_seconds` after it was issued, by the
emulator clock (advance the clock to expire it); the time a client is told is the same moment in wall-clock
time, as clients check expiry against their own clock. An expired link answers 403, an unknown or evicted one
404, each with a message saying so.

The store is bounded by bytes (:attr:`ResultFiles.max_bytes`): publishing past the limit evicts the oldest
files first and counts them in :attr:`ResultFiles.evicted`::

    files = ResultFiles.of(workspace)
    link = files.publish(body)            # link.url, link.expires_at (emulator clock), link.byte_count
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

from ..clock import Clock
from ..http import ApiError, HttpApp, Request, Response
from ..workspace import Workspace

ROUTE_PREFIX = "/emulator/v1/result-files/"
DEFAULT_LIFETIME_SECONDS = 900.0
DEFAULT_MAX_BYTES = 1 << 30
_EXTENSION_KEY = "sql.result_files"


@dataclass(frozen=True)
class Link:
    """One published file: where to download it and until when."""

    token: str
    url: str
    expires_at: float
    byte_count: int
    wall_expires_at: float

    def expiration_iso(self) -> str:
        """The wall-clock expiry as the Statement Execution API writes it (``2026-12-03T12:00:00.000Z``)."""
        moment = datetime.fromtimestamp(self.wall_expires_at, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class _File:
    body: bytes
    expires_at: float


class ResultFiles:
    """The workspace's downloadable result files, bounded by total bytes."""

    def __init__(
        self,
        clock: Clock,
        host: str | None,
        *,
        lifetime_seconds: float = DEFAULT_LIFETIME_SECONDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.clock = clock
        self.host = host
        self.lifetime_seconds = lifetime_seconds
        self.max_bytes = max_bytes
        self.evicted = 0
        self.downloads = 0
        self._bytes = 0
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, workspace: Workspace) -> ResultFiles:
        """The workspace's store, created on first use."""
        with workspace.lock:
            files = workspace.extensions.get(_EXTENSION_KEY)
            if files is None:
                files = workspace.extensions[_EXTENSION_KEY] = cls(workspace.clock, None)
            files.host = workspace.host or None
            return files

    @property
    def stored_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def publish(self, body: bytes) -> Link:
        """Keep ``body`` downloadable until the link expires (or is evicted by newer files)."""
        if not self.host:
            raise RuntimeError("result files need the emulator's address: start the emulator first")
        token = secrets.token_urlsafe(24)
        now = self.clock.time()
        expires_at = now + self.lifetime_seconds
        with self._lock:
            self._drop_expired_locked(now)
            self._files[token] = _File(body, expires_at)
            self._bytes += len(body)
            while self._bytes > self.max_bytes and len(self._files) > 1:
                _, oldest = self._files.popitem(last=False)
                self._bytes -= len(oldest.body)
                self.evicted += 1
        return Link(
            token=token,
            url=f"{self.host.rstrip('/')}{ROUTE_PREFIX}{token}",
            expires_at=expires_at,
            byte_count=len(body),
            wall_expires_at=time.time() + self.lifetime_seconds,
        )

    def _drop_expired_locked(self, now: float) -> None:
        for token in [token for token, file in self._files.items() if file.expires_at <= now]:
            self._bytes -= len(self._files.pop(token).body)

    def download(self, token: str) -> bytes:
        """The file's bytes; :class:`ApiError` 403 once expired, 404 when unknown or evicted."""
        with self._lock:
            file = self._files.get(token)
            if file is None:
                raise ApiError(
                    404,
                    "NOT_FOUND",
                    "This result file does not exist: the link is wrong, or the file was evicted to keep the "
                    "emulator's result-file store within its byte limit. Fetch the result's links again.",
                )
            if file.expires_at <= self.clock.time():
                raise ApiError(
                    403,
                    "PERMISSION_DENIED",
                    "Request has expired: this result link is past its expiration. Fetch the chunk's link again.",
                )
            self.downloads += 1
            return file.body


def register(app: HttpApp, workspace: Workspace) -> None:
    """Serve result files without authentication, as presigned cloud-storage URLs are."""
    app.public_prefixes.append(ROUTE_PREFIX)

    def download(request: Request) -> Response:
        files = ResultFiles.of(workspace)
        return Response(body=files.download(request.params["token"]), content_type="application/octet-stream")

    app.router.add("GET", ROUTE_PREFIX + "{token}", download)
