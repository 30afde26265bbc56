"""``python -m databricks_emulator``: start, print how to connect, stop cleanly; drive its clock from outside."""

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
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.service import jobs

from databricks_emulator import Clock, Emulator
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


def test_a_fast_clock_moves_speed_simulated_seconds_per_wall_second(monkeypatch):
    wall = [1000.0]
    monkeypatch.setattr("databricks_emulator.clock.time.monotonic", lambda: wall[0])
    clock = Clock(start=0.0, speed=60)
    wall[0] += 2.5
    assert clock.time() == pytest.approx(150.0)


@pytest.mark.parametrize("speed", [0, -1, float("inf"), "fast"])
def test_a_speed_that_is_not_a_positive_number_is_refused_by_name(speed):
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=speed)


@pytest.mark.parametrize("arguments", [["--speed", "0"], ["--speed", "x"], ["--speed", "60", "--frozen"]])
def test_a_bad_speed_is_a_usage_error(capsys, arguments):
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert "--speed" in capsys.readouterr().err


def test_the_admin_endpoint_advances_a_frozen_clock_and_refuses_going_back():
    with Emulator(clock=Clock(frozen=True)) as ws:
        client = ws.workspace_client()
        before = client.api_client.do("GET", "/emulator/v1/clock")
        after = client.api_client.do("POST", "/emulator/v1/clock/advance", body={"seconds": 3600})
        assert after["time"] == pytest.approx(before["time"] + 3600) and after["frozen"] is True
        with pytest.raises(Exception, match="only moves forward"):
            client.api_client.do("POST", "/emulator/v1/clock/advance", body={"seconds": -1})


@pytest.mark.subprocess
def test_a_plain_script_finishes_a_job_run_on_a_frozen_standalone_emulator_by_advancing_it_from_the_cli():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABRICKS_")}
    server = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--port", "0", "--frozen"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        lines = read_until(server, "token:")
        host = lines[0].rsplit(" ", 1)[-1]
        token = next(line.split()[-1] for line in lines if line.strip().startswith("token:"))
        assert any("frozen" in line and "advance" in line for line in lines)
        client = WorkspaceClient(config=Config(host=host, token=token, auth_type="pat"))
        task = jobs.SubmitTask(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/n"))
        run_id = client.jobs.submit(run_name="script", tasks=[task]).run_id
        assert client.jobs.get_run(run_id).state.life_cycle_state != jobs.RunLifeCycleState.TERMINATED
        done = subprocess.run(
            [sys.executable, "-m", MODULE, "advance", "7200", "--host", host, "--token", token],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert "advanced by 7200 s" in done.stdout
        assert client.jobs.get_run(run_id).state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def test_advance_against_nothing_says_no_emulator_answers(capsys):
    assert main(["advance", "1", "--host", "http://127.0.0.1:9"]) == 1
    assert "no emulator answers at http://127.0.0.1:9" in capsys.readouterr().err
