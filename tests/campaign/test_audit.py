"""The integrity audit on constructed data whose answer is known."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.backends import ModelsFileError, load_models
from arena.battles import Battles
from arena.campaign import CampaignData, ModelInfo
from arena.campaign.audit import (
    audit,
    audit_markdown,
    data_share,
    deprecation,
    duplication,
    normalise_prompt,
    selection_bias,
    selection_groups,
)
from arena.cli.main import main

from .conftest import expected_battles, sampled_battles


def test_selection_bias_of_equal_independent_variants_is_the_expected_maximum() -> None:
    # E[max of 10 standard normals] = 1.5388
    s = 0.1
    _, bias = selection_bias(
        np.zeros(10), np.eye(10) * s**2, draws=40_000, rng=np.random.default_rng(1)
    )
    assert bias == pytest.approx(1.5388 * s, rel=0.02)
    # a clear winner carries (almost) no selection bias
    _, clear = selection_bias(np.array([0.0, 2.0]), np.eye(2) * s**2)
    assert clear == pytest.approx(0.0, abs=1e-3)


def _variants_arena(seed: int) -> CampaignData:
    """BigLab tested 8 variants of one family, all truly rated 1000; four references."""
    refs = {"ref-900": 900.0, "ref-950": 950.0, "ref-1050": 1050.0, "ref-1100": 1100.0}
    variants = {f"big-v{i}": 1000.0 for i in range(8)}
    rng = np.random.default_rng(seed)
    rows = sampled_battles(refs, 150, rng)
    for v in variants:
        for r, rating in refs.items():
            rows += sampled_battles({v: 1000.0, r: rating}, 50, rng)
    frame = pd.DataFrame(rows)
    codes = frame["winner"].map({"model_a": 0, "model_b": 1}).to_numpy(np.int8)
    battles = Battles.from_names(frame["model_a"], frame["model_b"], codes)
    info = {v: ModelInfo("BigLab", "blm", active=(v == "big-v0")) for v in variants}
    info |= {r: ModelInfo(f"Lab {r}") for r in refs}
    return CampaignData(battles, info, "constructed")


def test_best_of_n_equal_variants_shows_the_selection_bias() -> None:
    """The reported best is too high by about the expected bias; the corrected one is not."""
    raw, corrected, biases = [], [], []
    for seed in range(12):
        (group,) = selection_groups(_variants_arena(seed), draws=4000, seed=seed)
        assert (group.organization, group.family, len(group.variants)) == ("BigLab", "blm", 8)
        raw.append(group.best_rating - 1000.0)  # the truth: all 12 models average 1000
        corrected.append(group.corrected_rating - 1000.0)
        biases.append(group.expected_bias)
    se = float(np.std(raw) / math.sqrt(len(raw)))
    assert np.mean(biases) > 20  # about 1.4 standard errors of ~25 points
    assert np.mean(raw) > 3 * se  # reporting the best of 8 equal variants inflates it
    assert abs(np.mean(raw) - np.mean(biases)) < 2 * se + 1  # by what the simulation says
    assert abs(np.mean(corrected)) < 2 * se + 1  # the corrected rating is unbiased


def test_kept_variant_and_markdown_report_the_group() -> None:
    data = _variants_arena(0)
    result = audit(data, draws=1000)
    (group,) = result.selection
    # only big-v0 is still active: the report says whether it is the best one
    assert group.kept_is_best == (group.best == "big-v0")
    text = audit_markdown(result)
    assert "| BigLab | blm | 8 | " in text and "selection-corrected" in text
    # the withdrawn variants are the deprecated ones by default
    assert result.deprecation is not None and len(result.deprecation.deprecated) == 7
    assert result.deprecation.connected_after  # the references keep the graph connected


def test_data_share_and_sampling_disparity() -> None:
    ratings = {"a1": 1000.0, "a2": 1000.0, "b1": 1000.0, "c1": 1000.0}
    per_pair = {("a1", "b1"): 100, ("a2", "b1"): 100, ("a1", "c1"): 100, ("a2", "c1"): 100}
    per_pair[("b1", "c1")] = 50
    battles = expected_battles(ratings, per_pair, pairs=list(per_pair))
    info = {"a1": ModelInfo("A"), "a2": ModelInfo("A"), "b1": ModelInfo("B"), "c1": ModelInfo("C")}
    share = data_share(CampaignData(battles, info, "constructed"))
    orgs = share.organizations.set_index("organization")
    assert orgs.loc["A", "battles"] == 400 and orgs.loc["B", "battles"] == 250
    assert orgs.loc["A", "share"] == pytest.approx(400 / 900)
    assert orgs.loc["B", "share_per_model"] == pytest.approx(250 / 900)
    assert share.disparity == pytest.approx(250 / 200)
    assert share.total_battles == 450 and share.total_prompts is None


def test_duplicate_prompts_exact_and_normalised() -> None:
    prompts = ["Hello there", "hello there!", "Hello there", "Other", "  HELLO   there ", None]
    a = ["x", "y", "x", "y", "x", "y"]
    b = ["y", "z", "z", "x", "z", "z"]
    meta = pd.DataFrame({"prompt": prompts})
    battles = Battles.from_names(a, b, np.array([0, 0, 1, 0, 1, 1], dtype=np.int8), meta=meta)
    dup = duplication(CampaignData(battles, {}, "constructed"))
    assert dup is not None
    assert dup.battles_with_prompts == 5
    assert dup.exact_share == pytest.approx(1 / 5)  # the second "Hello there"
    assert dup.normalised_share == pytest.approx(3 / 5)  # all but the first two kinds
    assert dup.kept_battles == 3  # first "hello there", "Other", and the one without prompt
    assert normalise_prompt("  ＨＥＬＬＯ,  there?! ") == "hello there"


def test_dropping_a_bridge_disconnects_the_graph() -> None:
    ratings = {"bridge": 1000.0, "x1": 1100.0, "x2": 1050.0, "y1": 950.0, "y2": 900.0}
    pairs = [("bridge", m) for m in ("x1", "x2", "y1", "y2")] + [("x1", "x2"), ("y1", "y2")]
    battles = expected_battles(ratings, 100, pairs=pairs, tie_share=0.2)
    result = deprecation(CampaignData(battles, {}, "constructed"), ["bridge"])
    assert result is not None
    assert result.connected_before and not result.connected_after
    assert result.components_after == 2
    assert result.dropped_battles == 400


def test_models_file_family_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "models.toml"
    good.write_text('[[models]]\nname = "m"\nbackend = "fake"\nfamily = "m-family"\n')
    assert load_models(good)[0].family == "m-family"
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[models]]\nname = "m"\nbackend = "fake"\nfamily = "{"x" * 201}"\n')
    with pytest.raises(ModelsFileError, match="family"):
        load_models(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[[models]]\nname = "m"\nbackend = "fake"\nfamily = 3\n')
    with pytest.raises(ModelsFileError, match="family"):
        load_models(wrong)


MODELS = [
    {"name": "big-a", "organization": "BigLab", "family": "blm", "active": True},
    {"name": "big-b", "organization": "BigLab", "family": "blm", "active": False},
    {"name": "big-c", "organization": "BigLab", "family": "blm", "active": False},
    {"name": "secret", "organization": "BigLab", "family": "blm", "codename": "kestrel"},
    {"name": "ref", "organization": "Other"},
]


def test_audit_of_the_votes_database(
    make_votes_db: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    ratings = {"big-a": 1000.0, "big-b": 1000.0, "big-c": 1000.0, "secret": 1000.0, "ref": 1000.0}
    prompts = ["What is 2+2?", "what is 2+2", "Write a poem.", "Explain tides."]
    rows = sampled_battles(ratings, 12, rng, prompts=prompts)
    url = make_votes_db(MODELS, rows)
    out = tmp_path / "audit.json"
    plots = tmp_path / "plots"
    assert main(["audit", "--database", url, "--format", "json", "--output", str(out),
                 "--plots", str(plots), "--draws", "500"]) == 0
    report = json.loads(out.read_text())
    text = out.read_text()
    assert "secret" not in text  # the preview stays under its codename
    orgs = {o["organization"]: o for o in report["data_share"]["organizations"]}
    assert set(orgs) == {"BigLab", "Other", "Preview"}
    assert orgs["BigLab"]["models"] == 3 and orgs["Preview"]["models"] == 1
    assert report["data_share"]["total_prompts"] == 4
    (group,) = report["selection"]
    assert (group["organization"], group["family"], len(group["variants"])) == ("BigLab", "blm", 3)
    assert sorted(report["deprecation"]["deprecated"]) == ["big-b", "big-c"]
    dup = report["duplication"]
    assert dup["exact_share"] == pytest.approx(1 - 4 / len(rows))
    assert dup["normalised_share"] == pytest.approx(1 - 3 / len(rows))
    written = sorted(p.name for p in plots.iterdir())
    assert written == ["best_of_n.png", "data_share.png", "deprecation.png", "duplication.png"]
    assert all((plots / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in written)
    capsys.readouterr()
    assert main(["audit", "--database", url, "--deprecated", "nobody"]) == 2
    assert "no model 'nobody'" in capsys.readouterr().err


def test_audit_cli_refuses_bad_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.jsonl"
    rows = sampled_battles({"x": 1100.0, "y": 1000.0}, 20, np.random.default_rng(0))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    taken = tmp_path / "plots-file"
    taken.write_text("not a folder")
    assert main(["audit", str(path), "--plots", str(taken)]) == 2
    assert "--plots needs a folder" in capsys.readouterr().err
    assert main(["audit", str(path), "--deprecated", "x", "--deprecated", "y"]) == 2
    assert "fewer than two models" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", str(path), "--draws", "5"])
    assert "100 to 1000000 draws" in capsys.readouterr().err
    models = tmp_path / "models.toml"
    models.write_text('[[models]]\nname = "x"\nbackend = "fake"\nfamily = ["a"]\n')
    assert main(["audit", str(path), "--models", str(models)]) == 2
    assert "family" in capsys.readouterr().err
    # a models file naming organizations and families gives the groups for battle files
    models.write_text(
        '[[models]]\nname = "x"\nbackend = "fake"\norganization = "Lab"\nfamily = "f"\n'
        '[[models]]\nname = "y"\nbackend = "fake"\norganization = "Lab"\nfamily = "f"\n'
    )
    assert main(["audit", str(path), "--models", str(models), "--format", "json"]) == 0
    (group,) = json.loads(capsys.readouterr().out)["selection"]
    assert group["organization"] == "Lab" and len(group["variants"]) == 2
