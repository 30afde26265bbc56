"""A real Prometheus server for tests: its own config, storage and free port on 127.0.0.1, stopped on exit."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

BINARY = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrometheusServer:
    """``prometheus`` scraping ``targets`` every second (the Debian binary's flags; no lifecycle API needed)."""

    def __init__(
        self, directory: Path, targets: list[str], *, scrape_seconds: int = 1, honor_labels: bool = False
    ) -> None:
        if BINARY is None:
            raise RuntimeError("the prometheus binary is not on PATH")
        self.directory = directory
        self.port = free_port()
        config = directory / "prometheus.yml"
        static = ", ".join(f'"{target}"' for target in targets)
        config.write_text(
            f"global:\n  scrape_interval: {scrape_seconds}s\n  evaluation_interval: {scrape_seconds}s\n"
            f"scrape_configs:\n  - job_name: databricks-workload\n    honor_labels: {str(honor_labels).lower()}\n"
            f"    static_configs:\n"
            f"      - targets: [{static}]\n"
        )
        self._log = (directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus not ready after {timeout} s: {self.log()}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant-query result vector (``[{"metric": {...}, "value": [t, "v"]}, ...]``)."""
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(address, timeout=5) as response:
            answer = json.load(response)
        if answer.get("status") != "success":
            raise AssertionError(f"{promql}: {answer}")
        return answer["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 20.0, accept: Any = bool) -> list[dict[str, Any]]:
        """Polls ``promql`` until ``accept(result)`` holds; returns the last result when the deadline passes."""
        deadline = time.monotonic() + timeout
        result = self.query(promql)
        while not accept(result) and time.monotonic() < deadline:
            time.sleep(0.2)
            result = self.query(promql)
        return result

    def log(self) -> str:
        self._log.flush()
        return (self.directory / "prometheus.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
