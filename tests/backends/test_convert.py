"""``python -m arena.backends.convert``: the folder another engine serves, or one error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends.convert import main


def test_a_plain_folder_is_printed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "hf-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")  # found, never loaded
    models = tmp_path / "models.toml"
    models.write_text(f'[[models]]\nname = "m"\nbackend = "transformers"\npath = "{folder}"\n')
    assert main(["m", "--models", str(models)]) == 0
    assert capsys.readouterr().out.strip() == str(folder.resolve())


@pytest.mark.parametrize(
    ("name", "message"),
    [("nope", "model 'nope' is not in the models file"), ("f", "backend 'fake': no local weights")],
)
def test_bad_requests_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[models]]\nname = "f"\nbackend = "fake"\n')
    assert main([name, "--models", str(models)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
