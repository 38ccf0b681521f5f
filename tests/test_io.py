"""arena.io: the shared file helpers, with the hostile inputs their callers pass on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from arena.errors import UserError
from arena.io import (
    RUN_FILE,
    JsonlLineError,
    atomic_path,
    changed_setting,
    file_sha256,
    iter_jsonl,
    latex_escape,
    refuse_changed_settings,
    resume_file,
    write_atomic,
)


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_atomic_refuses_a_missing_directory_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"directory .* does not exist"):
        write_atomic(tmp_path / "nope" / "out.txt", b"x")
    with pytest.raises(UserError, match="it is a directory"):
        write_atomic(tmp_path, b"x")


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "votes.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer crashed"), atomic_path(target) as tmp:
        tmp.write_text("half a fi")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["votes.csv"]  # no stray temporary

    no_space = pytest.raises(UserError, match=r"cannot write .*votes.csv: No space")
    with no_space, atomic_path(target) as tmp:  # an OSError comes out as one clear message
        tmp.write_text("the disk filled up after this")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["votes.csv"]

    with atomic_path(target) as tmp, tmp.open("w") as stream:  # a streaming writer succeeds
        stream.writelines(f"{k}\n" for k in range(1000))
    assert target.read_text().splitlines()[-1] == "999"
    assert [p.name for p in tmp_path.iterdir()] == ["votes.csv"]


def test_file_sha256_is_the_hash_of_the_bytes_over_several_blocks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # > 2 MiB: more than one read block
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing")


def test_iter_jsonl_numbers_lines_and_skips_blanks_and_headers() -> None:
    lines = ['{"header": 1}', "", '{"a": 1}', "   ", '{"b": 2}']
    assert list(iter_jsonl(lines, skip=1)) == [(3, {"a": 1}), (5, {"b": 2})]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{oops", "not valid JSON (Expecting property name enclosed in double quotes, column 2)"),
        ("[1, 2]", "expected a JSON object"),
        ('"text"', "expected a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
        (
            '{"n": ' + "1" * 5000 + "}",
            "cannot be read as JSON (Exceeds the limit (4300 digits) for integer string "
            "conversion: value has 5000 digits; use sys.set_int_max_str_digits() to increase "
            "the limit)",
        ),
    ],
)
def test_iter_jsonl_names_the_bad_line(line: str, problem: str) -> None:
    with pytest.raises(JsonlLineError) as info:
        list(iter_jsonl(['{"ok": true}', line]))
    assert (info.value.line, info.value.problem) == (2, problem)
    assert str(info.value) == f"line 2: {problem}"
    assert info.value.invalid == problem.startswith("not valid JSON (Expecting")


def test_iter_jsonl_can_leave_the_value_type_to_the_caller() -> None:
    lines = ['{"a": 1}', "[1, 2]", '"text"']
    assert list(iter_jsonl(lines, objects_only=False)) == [(1, {"a": 1}), (2, [1, 2]), (3, "text")]
    with pytest.raises(JsonlLineError, match="line 2: not valid JSON"):  # syntax still checked
        list(iter_jsonl(['{"a": 1}', "{oops"], objects_only=False))


def test_resume_file_against_the_run_directory(tmp_path: Path) -> None:
    assert resume_file(tmp_path, resume=False) is None  # a new run
    with pytest.raises(UserError, match=r"holds no judge run to resume \(no run.json\)"):
        resume_file(tmp_path, resume=True, what="judge run")
    (tmp_path / RUN_FILE).write_text("{}")
    assert resume_file(tmp_path, resume=True) == tmp_path / RUN_FILE
    with pytest.raises(UserError, match="holds a run already: add --resume"):
        resume_file(tmp_path, resume=False)


def test_changed_setting_is_the_first_differing_key() -> None:
    assert changed_setting({"a": 1, "b": 2}, {"b": 2, "a": 1}) is None
    assert changed_setting({"a": 1, "c": 3}, {"a": 1, "b": None, "c": 4}) == "c"
    assert changed_setting({"a": 1}, {"a": 1, "z": 0}) == "z"  # a key only one run has


def test_latex_escape_escapes_once_and_flattens_lines() -> None:
    assert latex_escape("a_b & 50% {x}\\y") == r"a\_b \& 50\% \{x\}\textbackslash{}y"
    assert latex_escape("one\ntwo") == "one two"


def test_refuse_changed_settings_names_the_key_both_values_and_what_to_do(tmp_path: Path) -> None:
    run_file = tmp_path / RUN_FILE
    refuse_changed_settings(run_file, {"a": 1}, {"a": 1}, advice="unused")  # same: no error
    with pytest.raises(UserError) as info:
        refuse_changed_settings(run_file, {"a": 1, "b": 2}, {"a": 1, "b": 3}, advice="do X")
    assert str(info.value) == (
        f"--resume: this run's 'b' differs from the one in {run_file} (2 there, 3 now); do X"
    )
