"""``arena serve``: its checks before Streamlit starts, and the command it runs."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from arena.cli import serve
from arena.store import open_engine

from .conftest import write_models


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="arena")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.register(sub)
    return parser.parse_args(["serve", *argv])


def test_defaults_and_registration() -> None:
    args = parse([])
    assert (args.host, args.port, args.database, args.models, args.no_migrate) == (
        "127.0.0.1",
        8501,
        None,
        None,
        False,
    )
    assert args.func is serve.run_serve


def test_migrates_then_builds_the_streamlit_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'arena.db'}"
    models = write_models(tmp_path)
    args = parse(
        ["--host", "0.0.0.0", "--port", "9000", "--database", url, "--models", str(models)]
    )
    command, env = serve._prepare(args)
    open_engine(url).dispose()  # created and at the newest schema
    assert command[1:5] == ["-m", "streamlit", "run", str(serve.app_path())]
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags["--server.address"] == "0.0.0.0" and flags["--server.port"] == "9000"
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--client.showErrorDetails"] == "type"  # no exception message in the browser
    assert env["ARENA_DATABASE_URL"] == url
    assert env["ARENA_MODELS_FILE"] == str(models.resolve())
    assert serve.app_path().is_file()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = serve.main(argv)
    return status, capsys.readouterr().err.strip()


def test_malformed_models_file_stops_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_models(
        tmp_path, '[[models]]\nname = "m"\nbackend = "fake"\nweight = -1\n', "bad.toml"
    )
    db = tmp_path / "never.db"
    status, err = run(["--models", str(bad), "--database", f"sqlite:///{db}"], capsys)
    assert status == 2
    expected = "model #1 ('m'), field 'weight': expected a number >= 0, got number -1.0"
    assert err == f"arena: error: {bad}, {expected}"
    assert not db.exists()
    status, err = run(["--models", str(tmp_path / "missing.toml")], capsys)
    assert status == 2 and err.endswith("missing.toml: file not found")


def test_no_migrate_says_run_db_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run(["--no-migrate", "--database", f"sqlite:///{tmp_path / 'x.db'}"], capsys)
    assert status == 2 and "run `arena db upgrade`" in err and err.count("\n") == 0


def test_bad_port_and_missing_streamlit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, err = run(["--port", "70000"], capsys)
    assert status == 2 and "--port must be between 1 and 65535" in err
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    status, err = run(["--database", f"sqlite:///{tmp_path / 'y.db'}"], capsys)
    assert status == 2 and "pip install 'arena[web]'" in err


def test_bad_generation_setting_stops_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARENA_IDLE_TIMEOUT_S", "0")
    db = tmp_path / "never.db"
    models = str(write_models(tmp_path))
    status, err = run(["--models", models, "--database", f"sqlite:///{db}"], capsys)
    assert status == 2
    assert err == "arena: error: $ARENA_IDLE_TIMEOUT_S must be a number of seconds > 0, got 0.0"
    assert not db.exists()
