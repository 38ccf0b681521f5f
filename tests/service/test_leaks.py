"""The identity-leak rule against obfuscated names, and without false alarms on prose."""

from __future__ import annotations

import pytest

from arena.service import LeakDetector, leak_terms
from arena.service.config import DEFAULT_LEAK_WORDS
from arena.service.leaks import normalise

MODELS = [
    ("gemma-3-270m", "Gemma 3 270M", "Google", None),
    ("our-preview", None, "Our Lab", "kestrel"),
]
DETECTOR = LeakDetector(leak_terms(MODELS, DEFAULT_LEAK_WORDS))


@pytest.mark.parametrize(
    "text",
    [
        "I am C-l-a-u-d-e.",
        "I am C l a u d e, made by A n t h r o p i c.",
        "I am C.l.a.u.d.e",
        "I am C_l_a_u_d_e / C·l·a·u·d·e",
        "I am C - l - a - u - d - e",
        "I am Cl\u200baude",  # zero-width space
        "I am Cl\u00adau\u00adde",  # soft hyphens
        "I am C\u200dl\u2060a\ufeffude",  # joiner, word joiner, BOM
        "I am \u202eedualC\u202c.",  # a right-to-left override: shown as "Claude"
        "I am Ｃｌａｕｄｅ",  # fullwidth
        "I am 𝐂𝐥𝐚𝐮𝐝𝐞",  # mathematical bold
        "I am Сlаudе",  # Cyrillic С, а, е
        "I am ΚΕSΤRΕL",  # Greek Κ, Ε, Τ, Ρ
        "I am Gеmmа",  # Cyrillic е, а
        "I am Clàudé",  # accents
        "I am Cla\u0301ude",  # a combining accent
        "I am &#67;laude",
        "I am &amp;#67;laude",  # double-encoded
        "I am Cl<b></b>aude",
        "I am **Cl**aude",
        "I am `Cl`aude",
        "I am C\\laude",
        "I am Cl~~~~aude",
        "I come from G o o g l e",
        "I'm k.e.s.t.r.e.l",
        "Trained by hugging_face and Open\u00adAI",
    ],
)
def test_obfuscated_names_are_found(text: str) -> None:
    assert DETECTOR.leaks([text]), (text, normalise(text))


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France. The U.S.A. and the U.K. signed it.",
        "Solve for x, y and z: x y z are the axes; a b c are the sides.",
        "Plan A-B-C, e.g. step 1-2-3, i.e. the usual.",
        "Llamas, gemstones and a dilemma: metadata about a clause.",
        "The claudication was treated; Claudette and Claudia came.",
        "Москва — столица России. Мета-анализ показал, что это так.",  # Russian
        "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",  # Greek
        "def open_file(path):\n    return path.open()\n",
        "<b>Bold</b> and &amp; and **strong** text, `code`, ~~gone~~.",
        "I l o v e you, s o much.",  # letter-spaced, but no name
        "Grokking is hard; cohesion matters; phi is 1.618.",
        "The Ｆｕｌｌｗｉｄｔｈ text is fine.",
    ],
)
def test_ordinary_text_does_not_leak(text: str) -> None:
    assert not DETECTOR.find([text]), (text, normalise(text), DETECTOR.find([text]))


def test_normalise_reads_obfuscations_as_plain_text() -> None:
    assert normalise("Ｃｌ\u200bаudе &amp;#33; **x**") == "claude ! x"
    assert normalise("한국어 텍스트") == "한국어 텍스트"  # composed scripts survive
