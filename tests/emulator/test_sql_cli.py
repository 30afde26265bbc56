"""``python -m databricks_emulator``: start, print how to connect, stop cleanly."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from databricks_emulator.__main__ import main

MODULE = "databricks_emulator"


def read_until(process: subprocess.Popen, marker: str, timeout: float = 30) -> list[str]:
    """The child's stdout lines up to the one holding ``marker`` (raw reads: no buffering hides a line)."""
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        received += chunk
        lines = received.decode().splitlines()
        if any(marker in line for line in lines):
            return lines
    raise AssertionError(f"{marker!r} not printed within {timeout}s; got {received.decode()!r}")


@pytest.mark.subprocess
def test_module_serves_prints_the_host_and_stops_on_sigterm():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABRICKS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--port", "0", "--token", "dapi-cli-test", "--warehouse-size", "Medium"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        lines = read_until(process, "token:")
        host = lines[0].rsplit(" ", 1)[-1]
        assert host.startswith("http://127.0.0.1:")
        assert any(line.strip() == "token:        dapi-cli-test" for line in lines)
        request = urllib.request.Request(
            f"{host}/api/2.0/sql/warehouses", headers={"Authorization": "Bearer dapi-cli-test"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            warehouses = json.load(response)["warehouses"]
        assert [warehouse["cluster_size"] for warehouse in warehouses] == ["Medium"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.mark.parametrize(
    ("arguments", "named"), [(["--warehouse-size", "Huge"], "--warehouse-size"), (["--port", "x"], "--port")]
)
def test_bad_option_is_an_argparse_error_naming_it(capsys, arguments, named):
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err
