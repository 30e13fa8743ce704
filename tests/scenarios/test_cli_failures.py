"""How `caseflow` commands fail: one `error:` line and a non-zero exit, never a traceback."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from caseflow import cli, config


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv(cli.DEBUG_VARIABLE, raising=False)
    return monkeypatch


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("CASEFLOW_TIMER_INTERVAL", "abc", "CASEFLOW_TIMER_INTERVAL='abc' is not a number"),
    ("CASEFLOW_TIMER_INTERVAL", "-1", "must be at least"),
    ("CASEFLOW_TIMER_INTERVAL", "nan", "must be at least"),
    ("CASEFLOW_MAX_ATTACHMENT_BYTES", "10MB", "is not a whole number"),
    ("CASEFLOW_TIMEZONE", "Mars/Olympus", "is not a time zone"),
    ("CASEFLOW_DATABASE_URL", "nosuchdb://x", "CASEFLOW_DATABASE_URL is not a database"),
    ("CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT", "lots", "CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT='lots' is not a rate limit"),
    ("CASEFLOW_RATELIMIT_STORAGE_URI", "nosuch://host", "is not a rate-limit storage"),
    ("CASEFLOW_RATELIMIT_STORAGE_URI", "memcached://127.0.0.1:1", "is not a rate-limit storage"),  # no client library
    ("CASEFLOW_RATELIMIT_ENABLED", "sometimes", "is not on or off"),
    ("CASEFLOW_SECURE_COOKIES", "2", "CASEFLOW_SECURE_COOKIES='2' is not on or off"),
])
def test_a_bad_setting_is_named_and_exits_2(env, variable, value, said):
    env.setenv(variable, value)
    result = invoke("processes")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and said in result.stderr
    assert "Traceback" not in result.output


def test_settings_refuse_bad_numbers_for_every_reader(env):
    env.setenv("CASEFLOW_COMMENT_EDIT_MINUTES", "fifteen")
    with pytest.raises(config.ConfigError, match="CASEFLOW_COMMENT_EDIT_MINUTES"):
        config.load()
    env.setenv("CASEFLOW_COMMENT_EDIT_MINUTES", " 20 ")
    assert config.load().comment_edit_minutes == 20  # spaces around a number are fine


@pytest.mark.parametrize(("value", "on"), [("0", False), ("false", False), ("Off", False), ("no", False),
                                           ("1", True), ("TRUE", True), ("on", True), ("", True)])
def test_on_off_settings_take_the_usual_words(env, value, on):
    env.setenv("CASEFLOW_RATELIMIT_ENABLED", value)
    assert config.load().ratelimit_enabled is on


def test_an_smtp_port_beyond_65535_is_refused(env):
    env.setenv("CASEFLOW_SMTP_HOST", "mail.example.com")
    env.setenv("CASEFLOW_SMTP_PORT", "99999")
    with pytest.raises(config.ConfigError, match="CASEFLOW_SMTP_PORT='99999' must be at most 65535"):
        config.load()


def test_an_unreachable_database_is_one_line_and_exit_1(env):
    env.setenv("CASEFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = invoke("processes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot open the database:") and "Traceback" not in result.output


def test_an_unknown_role_is_refused_with_the_known_ones(env):
    result = invoke("tasks", "--role", "nosuchrole")
    assert result.exit_code == 2
    assert "no role 'nosuchrole'" in result.stderr and "quality" in result.stderr
    assert invoke("tasks", "--role", "quality", "--json").exit_code == 0


def test_a_bad_port_from_the_environment_is_a_usage_error(env):
    env.setenv("CASEFLOW_PORT", "eighty")
    result = invoke("serve")
    assert result.exit_code == 2 and "--port" in result.output


def test_an_unexpected_failure_is_one_line_unless_debugging(env):
    def broken(_session):
        raise RuntimeError("disk on fire")

    env.setattr("caseflow.accounts.list_users", broken)
    result = invoke("users", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected failure (RuntimeError: disk on fire)")
    assert "CASEFLOW_DEBUG=1" in result.stderr and "Traceback" not in result.output
    env.setenv(cli.DEBUG_VARIABLE, "1")
    debugging = invoke("users", "list")
    assert debugging.exit_code == 1 and isinstance(debugging.exception, RuntimeError)


def test_a_case_that_stops_with_an_error_is_one_error_line_not_a_traceback(tmp_path):
    """The real command (no test logging around it): the case's error is one line on stderr,
    the engine's warning and its traceback only with CASEFLOW_DEBUG=1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
    import sandbox_diagrams as sd

    bundle = sd.write_bundle(tmp_path / "b", "fails", sd.chain("fails", sd.script("boom", "x = 1 / 0")))
    env = {k: v for k, v in os.environ.items() if k != cli.DEBUG_VARIABLE}
    env.update(CASEFLOW_INSTANCE_DIR=str(tmp_path), CASEFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'c.sqlite3'}")
    exe = str(Path(sys.executable).with_name("caseflow"))

    def caseflow(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args], env={**env, **extra}, capture_output=True, text=True, timeout=120)

    assert caseflow("deploy", str(bundle)).returncode == 0
    started = caseflow("start", "fails", "--data", "{}", "--user", "admin")
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "ZeroDivisionError" in lines[0], started.stderr
    assert "caseflow retry 1" in lines[0]
    debugging = caseflow("start", "fails", "--data", "{}", "--user", "admin", CASEFLOW_DEBUG="1")
    assert "warning: instance being started (fails) stopped" in debugging.stderr and "Traceback" in debugging.stderr


def test_deploying_a_path_that_does_not_exist_is_a_usage_error(env, tmp_path):
    result = invoke("deploy", str(tmp_path / "no-such-folder"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_reader_that_stops_early_ends_the_command_quietly(env):
    """`caseflow operators | head -2`: no error line when the pipe closes, exit 141 like the shell's."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("caseflow")
    process = subprocess.Popen([str(exe), "operators"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes: its first line meets a closed pipe
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "error" not in err and "Traceback" not in err, err


def test_user_commands_answer_json_too(env):
    import json

    added = invoke("users", "add", "zed", "--role", "quality", "--password", "zed-password-1", "--json")
    assert added.exit_code == 0 and json.loads(added.stdout)["roles"] == ["quality"]
    assert [u["username"] for u in json.loads(invoke("users", "list", "--json").stdout)["users"]] == ["zed"]
    off = json.loads(invoke("users", "deactivate", "zed", "--json").stdout)
    assert off["active"] is False and off["tokens_revoked"] == 0
    assert json.loads(invoke("users", "activate", "zed", "--json").stdout)["active"] is True
    demo = json.loads(invoke("demo-users", "--json").stdout)
    assert "admin" in [d["username"] for d in demo["created"]] and demo["kept"] == []


def test_token_and_facts_failures_exit_with_their_kind(env):
    invoke("users", "add", "zed", "--role", "quality", "--password", "zed-password-1")
    assert invoke("tokens", "create", "nobody").exit_code == 3
    long_name = invoke("tokens", "create", "zed", "--name", "x" * 500)
    assert long_name.exit_code == 2 and "at most 200 characters" in long_name.stderr
    assert invoke("facts", "rebuild", "--process", "nosuch").exit_code == 3
