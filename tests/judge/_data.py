"""Fake models and a small prompt set for judge battles (shared with tests/cli/test_judge_cli.py).

Contestants answer every prompt with one fixed text, so their lengths decide a "longer"
judge and every winner is known beforehand; the other judges are position-biased, mute
(no verdict) or fail to answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODELS = """
[[models]]
name = "short"
backend = "fake"
answers = ["Short."]

[[models]]
name = "long"
backend = "fake"
answers = ["A long, detailed and careful answer with many more words than the others."]

[[models]]
name = "mid"
backend = "fake"
answers = ["A medium answer of six words."]

[[models]]
name = "judge"
backend = "fake"
judge = "longer"

[[models]]
name = "first-judge"
backend = "fake"
answers = ["Assistant A is clearly better. [[A]]"]

[[models]]
name = "mute-judge"
backend = "fake"
answers = ["Both answers have merits; I cannot decide."]

[[models]]
name = "flaky"
backend = "fake"
fail_rate = 0.5
fail_with = "error"
"""

PROMPTS: list[dict[str, Any]] = [
    {"question_id": 1, "category": "writing", "turns": ["Write a haiku.", "Now a limerick."]},
    {"question_id": 2, "category": "math", "turns": ["What is 2 + 2?"], "reference": ["4"]},
    {"id": "q3", "prompt": "Name a river."},
]


def write_prompts(path: Path) -> Path:
    """Write :data:`PROMPTS` as a JSON Lines prompt file at ``path``."""
    path.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    return path
