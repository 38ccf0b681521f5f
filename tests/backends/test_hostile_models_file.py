"""Hostile models files and suites: nan/inf numbers, deep nesting, huge files, via the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends import ModelsFileError, load_models
from arena.cli.main import main


def run_eval(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> str:
    """`arena eval` stops at the file check: one line, status 2, no traceback."""
    status = main(["eval", *args, "--no-store", "--limit", "1", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("arena: error: "), err
    assert "Traceback" not in err
    return err


def models_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "m"\n' + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["nan", "+nan", "inf", "-inf", "1e300", "-1e10"])
@pytest.mark.parametrize(
    ("backend", "key"),
    [
        ('backend = "fake"', "weight"),
        ('backend = "fake"', "latency"),
        ('backend = "fake"', "load_time"),
        ('backend = "fake"', "fail_rate"),
        ('backend = "replay"\npath = "a.jsonl"', "latency"),
        ('backend = "openai"\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "x"', "timeout"),
        ('backend = "openai"\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "x"', "backoff"),
    ],
)
def test_non_finite_numbers_name_the_entry_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str, key: str, value: str
) -> None:
    path = models_file(tmp_path, f"{backend}\n{key} = {value}\n")
    with pytest.raises(ModelsFileError) as info:
        load_models(path)
    message = str(info.value)
    assert "model #1 ('m')" in message and f"'{key}'" in message and "finite" in message
    if key in ("weight", "latency", "timeout"):  # and through the command line
        err = run_eval(capsys, tmp_path, "--suite", "smoke", "--models", str(path), "--model", "m")
        assert f"'{key}'" in err and "model #1" in err


def test_finite_numbers_still_load(tmp_path: Path) -> None:
    (config,) = load_models(models_file(tmp_path, 'backend = "fake"\nweight = 2.5\nlatency = 0\n'))
    assert config.weight == 2.5 and config.options.latency == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "[" * 100_000 + "]" * 100_000,
        "{ a = " * 50_000 + "1" + " }" * 50_000,
    ],
    ids=["arrays", "inline tables"],
)
def test_deeply_nested_models_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = models_file(tmp_path, f'backend = "fake"\nanswers = {value}\n')
    err = run_eval(capsys, tmp_path, "--suite", "smoke", "--models", str(path), "--model", "m")
    assert str(path) in err and "nested too deeply" in err


def test_deep_dotted_keys_in_a_models_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dotted keys build the nesting without recursion in the parser; showing it would
    path = models_file(tmp_path, 'backend = "fake"\nlatency.' + ".".join(["a"] * 20_000) + " = 1\n")
    err = run_eval(capsys, tmp_path, "--suite", "smoke", "--models", str(path), "--model", "m")
    assert str(path) in err


def test_huge_models_file_is_not_read_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "models.toml"
    with path.open("w", encoding="utf-8") as handle:
        handle.write('[[models]]\nname = "m"\nbackend = "fake"\n')
        handle.write("# padding\n" * (2 << 20))  # about 20 MiB of comments
    err = run_eval(capsys, tmp_path, "--suite", "smoke", "--models", str(path), "--model", "m")
    assert "larger than 16 MiB" in err


@pytest.mark.parametrize(
    "body",
    [
        'description = ' + "[" * 100_000 + "]" * 100_000 + "\n",
        'description = ' + "{ a = " * 50_000 + "1" + " }" * 50_000 + "\n",
        "description." + ".".join(["a"] * 20_000) + " = 1\n",
    ],
    ids=["arrays", "inline tables", "dotted keys"],
)
def test_deeply_nested_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str) -> None:
    path = tmp_path / "suite.toml"
    path.write_text('[suite]\nname = "x"\n' + body, encoding="utf-8")
    err = run_eval(capsys, tmp_path, "--suite", str(path), "--model", "m")
    assert str(path) in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_number_in_a_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    smoke = Path(__file__).parents[2] / "benchmarks" / "smoke.toml"
    text = smoke.read_text(encoding="utf-8").replace("timeout = 5.0", f"timeout = {value}")
    text = text.replace('path = "data/', f'path = "{smoke.parent}/data/')
    assert f"timeout = {value}" in text
    path = tmp_path / "suite.toml"
    path.write_text(text, encoding="utf-8")
    err = run_eval(capsys, tmp_path, "--suite", str(path), "--model", "m")
    assert "finite number" in err and "timeout" in err and str(path) in err
