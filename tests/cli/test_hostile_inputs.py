"""Hostile files and flags through `arena leaderboard`: one line, non-zero exit, no traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from arena.cli.main import main

BATTLE = {"model_a": "a", "model_b": "b", "winner": "model_a"}
OK_ROWS = [BATTLE, {"model_a": "b", "model_b": "a", "winner": "model_a"}]
DEEP = 100_000  # levels of nesting: far past the interpreter's recursion limit


def fails_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str | Path], *needles: str
) -> str:
    """Run the CLI in-process; any exception but a handled one fails the test itself."""
    status = main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    assert status != 0
    assert len(err.splitlines()) == 1, err
    assert err.startswith("arena: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- nested JSON
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("array.json", "[" * 100_000),
        ("value.json", json.dumps([BATTLE])[:-2] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}]"),
        ("object.json", '{"a": ' * 100_000 + "1" + "}" * 100_000),
        ("line.jsonl", json.dumps(BATTLE) + "\n" + '{"x": ' + "[" * DEEP + "]" * DEEP + "}\n"),
    ],
)
def test_deeply_nested_battle_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    path = write(tmp_path, name, text)
    fails_with_one_line(capsys, ["leaderboard", path], str(path), "nested")


def test_deeply_nested_conversation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the conversation is a JSON string inside the record, parsed later (for prompts/style)
    conversation = "[" * 100_000 + "]" * 100_000
    rows = [{**BATTLE, "conversation_a": conversation, "conversation_b": "[]"}]
    path = write(tmp_path, "conv.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    fails_with_one_line(
        capsys, ["leaderboard", path, "--style-control"], "conversation_a", "row 1", "nested"
    )


def test_number_with_too_many_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps([BATTLE])[:-2] + ', "count": ' + "9" * 5000 + "}]"
    path = write(tmp_path, "digits.json", text)
    fails_with_one_line(capsys, ["leaderboard", path], str(path), "digits")


# ---------------------------------------------------------------------------- gzip bombs
def gzip_bomb(path: Path, gib: int) -> Path:
    """A few megabytes that decompress to ``gib`` GiB of JSON-looking text."""
    member = gzip.compress(b" " * (16 << 20), compresslevel=9)
    with path.open("wb") as handle:
        handle.write(gzip.compress(b"["))
        for _ in range(gib * 64):
            handle.write(member)
    return path


def test_gzip_bomb_stops_at_the_limit_in_bounded_memory(tmp_path: Path) -> None:
    bomb = gzip_bomb(tmp_path / "bomb.json.gz", 4)
    assert bomb.stat().st_size < 8 << 20
    # The peak is this process's own VmHWM (in KiB): ru_maxrss would not do, as Linux carries
    # the parent's peak across fork and exec into it (a big pytest process fails the check).
    script = (
        "import re, sys\n"
        "from arena.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "status_text = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', status_text).group(1))\n"
        "sys.exit(status)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "leaderboard", str(bomb), "--max-decompressed", "32M"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "decompresses to more than 32 MiB" in err and "--max-decompressed" in err
    peak_kib = int(proc.stdout.split()[-1])
    assert peak_kib < 1 << 20  # under 1 GiB: the 4 GiB were never held


def test_default_decompression_limit_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import arena.battles.readers.files as readers

    monkeypatch.setattr(readers, "MAX_DECOMPRESSED_BYTES", 1 << 20)
    bomb = gzip_bomb(tmp_path / "bomb.json.gz", 1)
    fails_with_one_line(capsys, ["leaderboard", bomb], "more than 1 MiB", "--max-decompressed")
    # a genuine file under a raised limit reads as before
    small = tmp_path / "ok.jsonl.gz"
    small.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in OK_ROWS).encode()))
    assert main(["leaderboard", str(small), "--max-decompressed", "2M", "--quiet"]) == 0


@pytest.mark.parametrize("size", ["0", "-1", "lots", "1e400G", "nan"])
def test_bad_decompression_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    path = write(tmp_path, "ok.jsonl", "\n".join(json.dumps(r) for r in OK_ROWS))
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", str(path), f"--max-decompressed={size}"])
    assert exit_info.value.code == 2
    assert "expected a size such as 4G" in capsys.readouterr().err


# ---------------------------------------------------------------------------- counts
PAIR_HEADER = "model_a,model_b,wins_a,wins_b,tie,tie_bothbad\n"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("1e308", "1e+308"),
        ("99999999999999999999999", "99999999999999999999999"),
        ("1000000000001", "1000000000001"),
        ("-2", "-2"),
        ("2.5", "2.5"),
        ("inf", "inf"),
        ("lots", "'lots'"),
    ],
)
def test_hostile_pair_counts_name_file_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, shown: str
) -> None:
    path = write(tmp_path, "pairs.csv", PAIR_HEADER + "b,c,2,3,1,0\n" + f"a,b,4,{cell},0,0\n")
    fails_with_one_line(
        capsys,
        ["leaderboard", path],
        f"{path}, row 2, column 'wins_b'",
        f"count {shown} is not a whole number >= 0 (at most 1,000,000,000,000)",
    )


def test_hostile_count_and_weight_in_a_battle_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [dict(BATTLE, count=1), dict(BATTLE, count=1e308)]
    path = write(tmp_path, "counts.json", json.dumps(rows))
    fails_with_one_line(capsys, ["leaderboard", path], "row 2, column 'count'", "1e+308")
    rows = [dict(BATTLE, weight=1), dict(BATTLE, weight=1e308)]
    path = write(tmp_path, "weights.json", json.dumps(rows))
    fails_with_one_line(capsys, ["leaderboard", path], "row 2, column 'weight'", "1e+308")


def test_pair_count_file_missing_wins_b_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "pairs.csv", "model_a,model_b,wins_a,tie\na,b,3,1\n")
    err = fails_with_one_line(capsys, ["leaderboard", path], "column 'wins_b'", "pair-count file")
    assert "winner" not in err


# ---------------------------------------------------------------------------- flags
@pytest.mark.parametrize("level", ["1.5", "95", "0", "1", "-0.5", "nan", "x"])
def test_level_outside_zero_one_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    path = write(tmp_path, "ok.jsonl", "\n".join(json.dumps(r) for r in OK_ROWS))
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", str(path), f"--level={level}"])
    assert exit_info.value.code == 2
    assert "0.95" in capsys.readouterr().err


def test_level_as_a_fraction_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.jsonl", "\n".join(json.dumps(r) for r in OK_ROWS * 5))
    out = tmp_path / "lb.json"
    assert main(["leaderboard", str(path), "--level", "0.5", "--output", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metadata"]["params"]["level"] == 0.5


# ---------------------------------------------------------------------------- Davidson, flags
@pytest.mark.parametrize(
    "rows", [OK_ROWS, [dict(BATTLE, winner="tie")], [BATTLE]], ids=["no ties", "only ties", "one"]
)
def test_davidson_without_tie_parameter_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[dict[str, str]]
) -> None:
    path = write(tmp_path, "b.json", json.dumps(rows))
    fails_with_one_line(
        capsys, ["leaderboard", path, "--method", "davidson"], "needs both ties and decisive"
    )


def test_undefeated_model_is_flagged_in_the_exports(tmp_path: Path) -> None:
    path = write(tmp_path, "b.json", json.dumps([dict(BATTLE, model_a="champ")] * 30))
    json_out, md_out = tmp_path / "lb.json", tmp_path / "lb.md"
    assert main(["leaderboard", str(path), "--output", str(json_out), "--quiet"]) == 0
    rows = {r["model"]: r for r in json.loads(json_out.read_text())["leaderboard"]}
    assert rows["champ"]["ci_flag"] == "unbounded above"
    assert rows["b"]["ci_flag"] == "unbounded below"
    assert rows["champ"]["ci_upper"] - rows["champ"]["rating"] > 600
    assert {r["rank_ub"] for r in rows.values()} == {1}
    assert main(["leaderboard", str(path), "--output", str(md_out), "--quiet"]) == 0
    assert "(unbounded above)" in md_out.read_text()
