"""Pure rules of the service: sampling, leak words, limits, safe Markdown, categories, admin."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from arena.errors import UserError
from arena.service import (
    Candidate,
    EmptyPrompt,
    LeakDetector,
    NoModelsAvailable,
    PromptTooLong,
    ServiceConfig,
    categorize,
    check_prompt,
    leak_terms,
    safe_markdown,
    sample_pair,
)
from arena.service.sampling import allowed_pairs

# -- sampling -------------------------------------------------------------------------------


def test_pairs_follow_the_product_of_weights_and_sides_are_shuffled() -> None:
    models = [Candidate("a", 1.0), Candidate("b", 2.0), Candidate("c", 3.0)]
    rng = random.Random(0)
    draws = [sample_pair(models, rng) for _ in range(30_000)]
    pairs = Counter(frozenset(d) for d in draws)
    total = 1 * 2 + 1 * 3 + 2 * 3
    for (x, y), w in {("a", "b"): 2, ("a", "c"): 3, ("b", "c"): 6}.items():
        assert pairs[frozenset((x, y))] / len(draws) == pytest.approx(w / total, abs=0.01)
    ac = [d for d in draws if set(d) == {"a", "c"}]
    assert sum(a == "a" for a, _ in ac) / len(ac) == pytest.approx(0.5, abs=0.03)  # sides


def test_two_previews_are_never_paired() -> None:
    models = [
        Candidate("p1", 5.0, preview=True),
        Candidate("p2", 5.0, preview=True),
        Candidate("known", 0.1),
    ]
    rng = random.Random(1)
    for _ in range(2_000):
        assert "known" in sample_pair(models, rng)
    assert {(a.name, b.name) for a, b, _ in allowed_pairs(models)} == {
        ("p1", "known"),
        ("p2", "known"),
    }


def test_zero_weight_never_drawn_and_no_pair_is_a_clear_error() -> None:
    rng = random.Random(2)
    models = [Candidate("a", 1.0), Candidate("b", 1.0), Candidate("zero", 0.0)]
    assert all("zero" not in sample_pair(models, rng) for _ in range(500))
    for few in ([], [Candidate("a", 1.0)], [Candidate("p", 1, True), Candidate("q", 1, True)]):
        with pytest.raises(NoModelsAvailable, match="fewer than two models"):
            sample_pair(few, rng)


# -- identity leaks ---------------------------------------------------------------------------

MODELS = [
    ("smollm2-135m-instruct", "SmolLM2 135M Instruct (Q4_1)", "Hugging Face", None),
    ("gemma-3-270m", "Gemma 3 270M (base, Q4_K_M)", "Google", "kestrel"),
]


def test_terms_come_from_models_and_extra_words() -> None:
    terms = leak_terms(MODELS, ["OpenAI"])
    for term in ("smollm", "gemma", "google", "hugging face", "kestrel", "openai"):
        assert term in terms
    assert "instruct" not in terms and "fake" not in leak_terms([("fake-x", None, None, None)])


@pytest.mark.parametrize(
    "text",
    [
        "I am SmolLM2, a small model.",
        "I'm Gemma-3, made by Google DeepMind.",
        "I was trained by Hugging Face.",
        "Built by huggingface engineers",
        "As an OpenAI model...",
        "GEMMA3 here",
    ],
)
def test_leaks_are_found(text: str) -> None:
    assert LeakDetector(leak_terms(MODELS, ["OpenAI"])).leaks([text])


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "I googled nothing; a dilemma remains.",  # "google" inside a word, "gemma" inside dilemma
        "Llamas live in the Andes.",
    ],
)
def test_ordinary_answers_do_not_leak(text: str) -> None:
    assert not LeakDetector(leak_terms(MODELS, ["Llama"])).leaks([text])


def test_find_reports_terms_once_in_order() -> None:
    found = LeakDetector(leak_terms(MODELS)).find(["Google made Gemma.", "Gemma again, Google"])
    assert found == ["google", "gemma"]


# -- limits -----------------------------------------------------------------------------------


def test_check_prompt() -> None:
    assert check_prompt("  hi \n", 10) == "hi"
    with pytest.raises(EmptyPrompt):
        check_prompt(" \t", 10)
    with pytest.raises(EmptyPrompt):
        check_prompt(None, 10)
    with pytest.raises(PromptTooLong, match="11 characters long; the limit is 10"):
        check_prompt("x" * 11, 10)


# (rate limits and the admin gate: tests/service/test_limits.py)


def test_config_from_env() -> None:
    config = ServiceConfig.from_env(
        {
            "ARENA_MAX_PROMPT_CHARS": "50",
            "ARENA_RATE_LIMIT": "0",
            "ARENA_LEAK_WORDS": "Acme, Zed",
            "ARENA_SECRET": "s",
        }
    )
    assert config.max_prompt_chars == 50 and config.rate_limit is None
    assert config.extra_leak_words[-2:] == ("Acme", "Zed") and config.secret == b"s"
    with pytest.raises(UserError, match="must be a number"):
        ServiceConfig.from_env({"ARENA_MAX_TURNS": "many"})


# -- safe markdown ----------------------------------------------------------------------------


# (raw HTML, code and fences: tests/service/test_markdown.py)


def test_images_and_script_links_are_neutralised() -> None:
    out = safe_markdown("![t](http://evil/x.png) [go](javascript:alert(1)) [d]( data:text/html,x)")
    assert "![" not in out and "javascript:" not in out and "data:" not in out


# -- categories -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("Write a Python function that reverses a list", "coding"),
        ("```\nprint(1)\n```", "coding"),
        ("Solve the equation x^2 = 4", "math"),
        ("What is 17 * 23?", "math"),
        ("Write a poem about the sea", "general"),
    ],
)
def test_categorize(prompt: str, category: str) -> None:
    assert categorize(prompt) == category
