"""databricks-otel-reconcile refuses bad arguments with a usage error that names the option, before any connection."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_databricks.reconcile.cli import _parser, main
from opentelemetry_instrumentation_databricks.reconcile.wiring import RETRY_BUDGET_SECONDS, connect_arguments


def _refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_a_negative_lookback_is_a_usage_error_not_a_watermark_in_the_future(capsys, tmp_path):
    err = _refused(capsys, ["run", "--state", str(tmp_path / "s.sqlite"), "--lookback-days", "-3"])
    assert "--lookback-days" in err and "future" in err and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("discount", ["-5", "0", "7", "lots"])
def test_a_discount_outside_zero_to_one_is_a_usage_error(capsys, tmp_path, discount):
    err = _refused(capsys, ["run", "--state", str(tmp_path / "s.sqlite"), "--discount", discount])
    assert "--discount" in err and "Traceback" not in err


def test_accuracy_on_a_mistyped_state_says_so_instead_of_reporting_nothing(capsys, tmp_path):
    (tmp_path / "records").mkdir()
    err = _refused(
        capsys,
        [
            "accuracy",
            "--since",
            "2026-11-01",
            "--state",
            str(tmp_path / "typo.sqlite"),
            "--records",
            str(tmp_path / "records"),
        ],
    )
    assert "--state" in err and "typo.sqlite" in err
    assert not (tmp_path / "typo.sqlite").exists()


@pytest.mark.parametrize("command", ["run", "accuracy"])
def test_a_missing_records_directory_is_reported(capsys, tmp_path, command):
    state = tmp_path / "s.sqlite"
    state.touch()
    argv = [command, "--state", str(state), "--records", str(tmp_path / "nosuch")]
    if command == "accuracy":
        argv += ["--since", "2026-11-01"]
    err = _refused(capsys, argv)
    assert "--records" in err and "nosuch" in err


def test_every_option_has_help_text_and_the_help_shows_no_markup(capsys):
    commands = next(action for action in _parser()._actions if action.choices)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "``" not in capsys.readouterr().out
    for name, command in commands.choices.items():
        undescribed = [action.option_strings for action in command._actions if not action.help]
        assert undescribed == [], name
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "``" not in capsys.readouterr().out


def test_billing_connections_give_up_on_an_unreachable_warehouse_within_the_clis_own_budget():
    arguments = connect_arguments("http://127.0.0.1:9", "/sql/1.0/warehouses/abc", "token")
    assert arguments["_retry_stop_after_attempts_duration"] == RETRY_BUDGET_SECONDS <= 120
    assert arguments["_retry_stop_after_attempts_count"] <= 5
    assert arguments["enable_telemetry"] is False


@pytest.mark.parametrize("discount", [-1, 0, 1.5, 7, float("nan")])
def test_the_billing_source_refuses_the_discounts_the_cli_refuses(discount):
    from opentelemetry_instrumentation_databricks.reconcile.source import SqlBillingSource

    with pytest.raises(ValueError, match=r"discount=.*factor on list price"):
        SqlBillingSource(lambda: None, discount=discount)


def test_records_default_to_the_directory_the_configurator_records_into(monkeypatch, tmp_path):
    (tmp_path / "records").mkdir()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR", str(tmp_path / "records"))
    for command in (["run", "--state", "s"], ["accuracy", "--since", "2026-11-01", "--state", __file__]):
        assert _parser().parse_args(command).records == str(tmp_path / "records")
    assert _parser().parse_args(["report", "--by", "team", "--since", "7d"]).records == str(tmp_path / "records")


def test_accuracy_without_records_or_the_variable_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR", raising=False)
    err = _refused(capsys, ["accuracy", "--since", "2026-11-01", "--state", __file__])
    assert "the following arguments are required: --records" in err


def test_a_records_variable_naming_no_directory_is_a_usage_error_not_a_traceback(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR", str(tmp_path / "missing"))
    err = _refused(capsys, ["run", "--state", str(tmp_path / "s.sqlite")])
    assert "--records" in err and "missing" in err and "SPAN_RECORD_DIR" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["accuracy", "report"])
@pytest.mark.parametrize("since", ["last week", "2999-01-01", "7w"])
def test_since_takes_the_same_forms_in_accuracy_and_report_and_names_them_when_refused(
    capsys, tmp_path, command, since
):
    state, records = tmp_path / "s.sqlite", tmp_path / "records"
    state.touch()
    records.mkdir()
    argv = [command, "--since", since, "--records", str(records)]
    argv += ["--state", str(state)] if command == "accuracy" else ["--by", "dagster_job_name"]
    err = _refused(capsys, argv)
    assert "--since" in err and "Traceback" not in err
    assert "7d" in err or "future" in err


def test_accuracy_since_accepts_a_duration_back_from_now(capsys, tmp_path):
    state, records = tmp_path / "s.sqlite", tmp_path / "records"
    records.mkdir()
    from opentelemetry_instrumentation_databricks.reconcile.state import StateStore

    StateStore(state).close()
    assert main(["accuracy", "--since", "7d", "--state", str(state), "--records", str(records), "--json"]) == 0
    assert '"methods"' in capsys.readouterr().out
