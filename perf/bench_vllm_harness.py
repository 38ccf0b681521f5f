"""This harness against lm-evaluation-harness 0.4.13 over HTTP, on one vLLM server.

Both harnesses talk to the same OpenAI-compatible server (vLLM's CPU build serving
SmolLM2-135M-Instruct, float32): ``arena eval`` with the ``openai`` backend, and lm-eval's
``local-completions`` model (``tokenizer_backend=huggingface`` on the served folder, so it
tokenises locally as lm-eval users do with vLLM). Same items, same prompts, same greedy
settings, the same number of requests in flight (``--concurrency`` here is lm-eval's
``num_concurrent``):

* MMLU (log-likelihood of " A".." D"), ``--mmlu`` items: the seeded sample that
  ``arena eval --limit N`` asks, written as a local JSONL with lm-eval's default MMLU
  prompt (as ``perf/conformance_lmeval.py`` does, fully offline); compared: the
  prediction on every item, the accuracy, the largest per-choice log-likelihood gap;
* GSM8K (generation), ``--gsm8k`` items, "Question: ...\\nAnswer:", greedy, at most 256
  tokens, stops "Question:", "</s>", "<|im_end|>"; compared: the flexible exact match
  (lm-eval's answers scored by this harness's ``number_match``) and identical answers.

Each harness runs as its own fresh process, one after the other, in the order given by
``--order`` (default lm-eval first on each task); the figure is the whole process's wall
time (imports, data, requests, scoring, writing), and items/s is items over that time.
The server is started once by the script (and stopped at the end) unless ``--base-url``
names a running one; its prefix cache is warm after the first harness, so the order is
reported. The script's server allows ``--max-logprobs 1000`` and this harness asks the top
1000 log-probabilities after each MMLU question (``next_token_logprobs``): one request
per question scores all four letters, where SmolLM2-135M's letters are often outside
vLLM's default top 20 (a question whose letters are not all there is echoed, as
lm-eval does every choice). A ``--base-url`` server needs the same ``--max-logprobs``
(or pass ``--next-token-logprobs 20``). ``--reuse-lmeval`` takes lm-eval's figures from
its last run on the same items (said so in the table). The machine's load average is
recorded before and after.

Setup: ``make vllm`` (perf/.venv-vllm) and lm-eval in perf/.venv-lmeval as in
``perf/conformance_lmeval.py``, plus ``tenacity`` (lm-eval's API models import it)::

    perf/.venv-lmeval/bin/pip install tenacity

Run::

    .venv/bin/python perf/bench_vllm_harness.py [--base-url http://127.0.0.1:8000/v1 \\
        --served-model smollm2-135m-instruct] [--mmlu 200] [--gsm8k 20] [--write-results]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "perf" / "out" / "vllm_harness"
LMEVAL_PY = ROOT / "perf" / ".venv-lmeval" / "bin" / "python"
VLLM = ROOT / "perf" / ".venv-vllm" / "bin" / "vllm"
ARENA = ROOT / ".venv" / "bin" / "arena"
RESULTS = ROOT / "perf" / "RESULTS.md"
BEGIN, END = "<!-- vllm_harness:begin -->", "<!-- vllm_harness:end -->"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HOME": str(OUT / "hf-home"),
}
#: ``arena eval``'s default ``--seed``: which rows a ``--limit`` run asks depends on it.
SEED = 1234
MODEL = "smollm2-vllm"
#: ``--max-logprobs`` of the server the script starts (vLLM's default is 20).
MAX_LOGPROBS = 1000


def _limited(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    from arena.harness import select_rows

    return [rows[i] for i in select_rows(rows, n, SEED)]


def write_tasks(n_mmlu: int, n_gsm: int) -> Path:
    """lm-eval's task YAMLs over local JSONL copies of the items ``arena eval`` asks."""
    from arena.harness import load_suite, read_rows

    (task,) = load_suite("mmlu").tasks
    with open(OUT / "mmlu.jsonl", "w", encoding="utf-8") as f:
        for r in _limited(read_rows(task.dataset), n_mmlu):
            row = {
                "subject": r["topic"],
                "question": r["question"],
                "choices": [r["answer_a"], r["answer_b"], r["answer_c"], r["answer_d"]],
                "answer": "ABCD".index(r["correct_answer"]),
            }
            f.write(json.dumps(row) + "\n")
    (gtask,) = load_suite("gsm8k").tasks
    with open(OUT / "gsm8k.jsonl", "w", encoding="utf-8") as f:
        for r in _limited(read_rows(gtask.dataset), n_gsm):
            f.write(json.dumps({"prompt": r["prompt"], "expected": r["expected"]}) + "\n")
    tasks = OUT / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "vh_mmlu.yaml").write_text(
        textwrap.dedent(f"""\
        task: vh_mmlu
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {OUT / "mmlu.jsonl"}
        test_split: test
        output_type: multiple_choice
        description: "The following are multiple choice questions (with answers) about {{{{subject.replace('_', ' ')}}}}.\\n\\n"
        doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
        doc_to_choice: ["A", "B", "C", "D"]
        doc_to_target: answer
        metric_list:
          - metric: acc
            aggregation: mean
            higher_is_better: true
        """)
    )
    (tasks / "vh_gsm8k.yaml").write_text(
        textwrap.dedent(f"""\
        task: vh_gsm8k
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
    return tasks


#: lm-eval's side: a fresh process, lm-eval's own API model, its samples saved for comparing.
LMEVAL_DRIVER = r"""
import json, sys
import lm_eval
from lm_eval.tasks import TaskManager
base_url, model, tokenizer, concurrency, tasks_dir, task, out = sys.argv[1:8]
args = (f"base_url={base_url}/completions,model={model},tokenizer_backend=huggingface,"
        f"tokenizer={tokenizer},num_concurrent={concurrency},max_retries=3,tokenized_requests=True")
res = lm_eval.simple_evaluate(model="local-completions", model_args=args, tasks=[task],
                              task_manager=TaskManager(include_path=tasks_dir),
                              log_samples=True, bootstrap_iters=0)
samples = sorted(res["samples"][task], key=lambda s: s["doc_id"])
json.dump({"samples": [{"doc_id": s["doc_id"], "context": s["arguments"][0][0],
                        "resps": s["resps"]} for s in samples]}, open(out, "w"))
"""


def timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    """Run ``cmd`` as a fresh process; its wall time (stderr kept in ``log``)."""
    start = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(
            cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err, check=False
        )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd[:4])} ...\n{tail}")
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def vllm_server(folder: Path, served: str) -> Any:
    """Start ``vllm serve`` on the folder (as ``make serve-vllm`` does); yield its /v1 URL."""
    import httpx

    port = free_port()
    log = (OUT / "vllm.log").open("wb")
    cmd = [str(VLLM), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"]
    cmd += ["--enable-prefix-caching", "--served-model-name", served]
    cmd += ["--max-logprobs", str(MAX_LOGPROBS)]  # what next_token_logprobs may ask
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 1200
        while True:
            if proc.poll() is not None:
                sys.exit(f"vllm serve exited with {proc.returncode}; see {OUT / 'vllm.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                sys.exit(f"vllm serve did not answer in 20 min; see {OUT / 'vllm.log'}")
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def run_lmeval(
    url: str, served: str, tokenizer: Path, concurrency: int, tasks: Path, task: str
) -> tuple[float, list[dict[str, Any]]]:
    out = OUT / f"lmeval-{task}.json"
    cmd = [str(LMEVAL_PY), "-c", LMEVAL_DRIVER, url, served, str(tokenizer), str(concurrency)]
    cmd += [str(tasks), f"vh_{task}", str(out)]
    wall = timed(cmd, OFFLINE, OUT / f"lmeval-{task}.log")
    result = json.loads(out.read_text())
    result.update(wall=wall, load=load(), at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    out.write_text(json.dumps(result))
    return wall, result["samples"]


def reused_lmeval(task: str, n: int) -> tuple[float, list[dict[str, Any]], str]:
    """lm-eval's last run of ``task`` (``--reuse-lmeval``): its wall time, samples and when."""
    path = OUT / f"lmeval-{task}.json"
    if not path.is_file():
        sys.exit(f"--reuse-lmeval: {path} is missing (run once without it)")
    result = json.loads(path.read_text())
    if len(result["samples"]) != n or "wall" not in result:
        sys.exit(f"--reuse-lmeval: {path} has {len(result['samples'])} items, not {n}")
    return float(result["wall"]), result["samples"], f"{result['at']}, load {result['load']}"


def run_ours(
    models: Path, suite: str, n: int, concurrency: int
) -> tuple[float, list[dict[str, Any]], dict[str, float]]:
    import shutil

    from arena.harness import read_results

    run_dir = OUT / f"run-{suite}"
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [str(ARENA), "eval", "--suite", suite, "--models", str(models), "--model", MODEL]
    cmd += ["--limit", str(n), "--concurrency", str(concurrency), "-o", str(run_dir)]
    cmd += ["--no-store"]  # progress bars on: a user's run shows them (stderr, kept in the log)
    wall = timed(cmd, OFFLINE, OUT / f"ours-{suite}.log")
    log = run_dir / "samples" / MODEL / f"{suite}.jsonl"
    samples = [json.loads(x) for x in log.read_text().splitlines()]
    res = read_results(run_dir / "results.json")
    return wall, samples, {k: v.value for k, v in res.results[0].metrics.items()}


def compare_mmlu(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(ours)
    assert n == len(theirs), (n, len(theirs))
    same_pred = same_prompt = 0
    worst, acc_lm, acc_ours = 0.0, 0, 0
    for mine, lm in zip(ours, theirs, strict=True):
        same_prompt += mine["prompt"] == lm["context"]
        their_ll = [float(r[0][0]) for r in lm["resps"]]
        pred = max(range(len(their_ll)), key=lambda i: their_ll[i])
        gaps = [abs(a - b) for a, b in zip(mine["loglikelihoods"], their_ll, strict=True)]
        worst = max(worst, *gaps)
        same_pred += pred == mine["pred"]
        acc_lm += pred == mine["gold"]
        acc_ours += mine["pred"] == mine["gold"]
    return {
        "n": n,
        "acc_ours": acc_ours / n,
        "acc_lmeval": acc_lm / n,
        "same": same_pred,
        "same_prompt": same_prompt,
        "max_ll_diff": worst,
        "identical": same_pred == n,
    }


def compare_gsm8k(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    from arena.harness import run_scorer

    n = len(ours)
    assert n == len(theirs), (n, len(theirs))
    same = agree = 0
    match_lm = match_ours = 0.0  # run_scorer gives a float score
    for mine, lm in zip(ours, theirs, strict=True):
        text = lm["resps"][0][0]
        same += text == mine["output"]
        a = run_scorer("number_match", text, mine["target"], {}, {})
        b = run_scorer("number_match", mine["output"], mine["target"], {}, {})
        match_lm += a
        match_ours += b
        agree += a == b
    return {
        "n": n,
        "acc_ours": match_ours / n,
        "acc_lmeval": match_lm / n,
        "same": same,
        "agree": agree,
        "identical": agree == n,
    }


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{mem:.1f} GiB RAM, Linux {platform.release()}, Python {platform.python_version()}"
    )


def versions() -> str:
    def version(python: Path, dist: str) -> str:
        code = f"import importlib.metadata as m; print(m.version('{dist}'))"
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        return proc.stdout.strip() or "?"

    return (
        f"vLLM {version(VLLM.parent / 'python', 'vllm')} (CPU build), "
        f"lm-eval {version(LMEVAL_PY, 'lm_eval')}"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base-url", help="a running server's /v1 URL (default: start one)")
    ap.add_argument("--served-model", default="smollm2", help="the model name the server serves")
    ap.add_argument("--tokenizer", type=Path, help="the served folder (default: the model cache's)")
    ap.add_argument("--mmlu", type=int, default=200, help="MMLU items (default 200)")
    ap.add_argument("--gsm8k", type=int, default=20, help="GSM8K items (default 20)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (both)")
    ap.add_argument(
        "--next-token-logprobs",
        type=int,
        default=MAX_LOGPROBS,
        help="the openai backend's next_token_logprobs (the server's --max-logprobs must "
        f"allow it; default {MAX_LOGPROBS}, as the server this script starts; 0: always echo)",
    )
    ap.add_argument("--order", choices=["lmeval-first", "ours-first"], default="lmeval-first")
    ap.add_argument("--tasks", nargs="+", default=["mmlu", "gsm8k"], choices=["mmlu", "gsm8k"])
    ap.add_argument(
        "--reuse-lmeval",
        action="store_true",
        help="take lm-eval's figures from its last run of the same items (said so in the output)",
    )
    ap.add_argument("--write-results", action="store_true", help="update perf/RESULTS.md")
    args = ap.parse_args()
    for n, what in ((args.mmlu, "--mmlu"), (args.gsm8k, "--gsm8k"), (args.concurrency, "-c")):
        if n < 1:
            ap.error(f"{what} must be at least 1")
    os.environ.update(OFFLINE)
    OUT.mkdir(parents=True, exist_ok=True)
    for path, how in ((LMEVAL_PY, "see perf/conformance_lmeval.py"), (ARENA, "make install")):
        if not path.exists():
            sys.exit(f"{path} is missing: {how}")
    from arena.backends.convert import model_folder

    folder = args.tokenizer or model_folder("smollm2-135m-instruct")
    tasks = write_tasks(args.mmlu, args.gsm8k)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with contextlib.ExitStack() as stack:
        url = args.base_url
        if url is None:
            if not VLLM.exists():
                sys.exit(f"{VLLM} is missing: make vllm")
            print(f"starting vllm serve {folder} ...", file=sys.stderr)
            url = stack.enter_context(vllm_server(folder, args.served_model))
        url = url.rstrip("/")
        models = OUT / "models.toml"
        models.write_text(
            f'[[models]]\nname = "{MODEL}"\nbackend = "openai"\nbase_url = "{url}"\n'
            f'model = "{args.served_model}"\nnext_token_logprobs = {args.next_token_logprobs}\n'
        )
        load_before = load()
        rows: list[dict[str, Any]] = []
        for task in args.tasks:
            n = args.mmlu if task == "mmlu" else args.gsm8k
            sides = ["lmeval", "ours"] if args.order == "lmeval-first" else ["ours", "lmeval"]
            walls: dict[str, float] = {}
            reused = None
            for side in sides:
                print(f"{task}: {side} ...", file=sys.stderr)
                if side == "lmeval" and args.reuse_lmeval:
                    walls[side], theirs, reused = reused_lmeval(task, n)
                elif side == "lmeval":
                    walls[side], theirs = run_lmeval(
                        url, args.served_model, folder, args.concurrency, tasks, task
                    )
                else:
                    walls[side], mine, _metrics = run_ours(models, task, n, args.concurrency)
            cmp = compare_mmlu(mine, theirs) if task == "mmlu" else compare_gsm8k(mine, theirs)
            row = {"task": task, "order": args.order, **cmp, **{f"wall_{k}": v for k, v in walls.items()}}
            row["ratio"] = walls["lmeval"] / walls["ours"]
            row["lmeval_reused"] = reused
            rows.append(row)
            print(summary(row))
        load_after = load()
    figures = {
        "started": started,
        "machine": machine(),
        "versions": versions(),
        "load_before": load_before,
        "load_after": load_after,
        "concurrency": args.concurrency,
        "next_token_logprobs": args.next_token_logprobs,
        "server": "given by --base-url" if args.base_url else "started by the script",
        "command": "python perf/bench_vllm_harness.py " + " ".join(sys.argv[1:]),
        "rows": rows,
    }
    (OUT / "figures.json").write_text(json.dumps(figures, indent=2))
    print(f"load average before / after: {load_before} / {load_after}")
    if args.write_results:
        write_results(figures)


def summary(row: dict[str, Any]) -> str:
    n = row["n"]
    ours, lm = row["wall_ours"], row["wall_lmeval"]
    if row["task"] == "mmlu":
        same = (
            f"same prediction {row['same']}/{n}, largest log-likelihood gap "
            f"{row['max_ll_diff']:.2e}, same prompt {row['same_prompt']}/{n}"
        )
    else:
        same = f"same exact-match verdict {row['agree']}/{n}, identical answers {row['same']}/{n}"
    return (
        f"{row['task'].upper()} {n} items: arena {ours:.1f} s ({n / ours:.2f} items/s, "
        f"acc {row['acc_ours']:.4f}) | lm-eval {lm:.1f} s ({n / lm:.2f} items/s, acc "
        f"{row['acc_lmeval']:.4f}) | speed-up {row['ratio']:.2f}x | {same} | "
        f"accuracy identical: {'yes' if row['identical'] else 'NO'}"
    )


def write_results(f: dict[str, Any]) -> None:
    lines = [
        BEGIN,
        "## The harness over HTTP vs lm-eval, on one vLLM server (`perf/bench_vllm_harness.py`)",
        "",
        f"Run {f['started']} with `{f['command']}`.",
        "",
        f"- Machine: {f['machine']}",
        f"- Engines: {f['versions']}, SmolLM2-135M-Instruct float32 served on 127.0.0.1 "
        f"(server {f['server']}, prefix caching on, `--max-logprobs {MAX_LOGPROBS}`); "
        f"{f['concurrency']} requests in flight for both (lm-eval's `num_concurrent`); "
        f"arena's `next_token_logprobs = {f['next_token_logprobs']}`",
        f"- **Load average (1, 5, 15 min) before / after: {f['load_before']} / "
        f"{f['load_after']}**",
        "",
        "| task | items | harness | wall s | items/s | accuracy | lm-eval / arena | same answers |"
        " identical accuracy | target >= 2x |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in f["rows"]:
        n = r["n"]
        same = f"{r['same']}/{n} predictions" if r["task"] == "mmlu" else f"{r['agree']}/{n} verdicts"
        met = "MET" if r["ratio"] >= 2 and r["identical"] else "NOT MET"
        lines.append(
            f"| {r['task']} | {n} | arena (openai backend) | {r['wall_ours']:.1f} | "
            f"{n / r['wall_ours']:.2f} | {r['acc_ours']:.4f} | {r['ratio']:.2f}x | {same} | "
            f"{'yes' if r['identical'] else 'NO'} | {met} |"
        )
        note = f" (its run of {r['lmeval_reused']})" if r.get("lmeval_reused") else ""
        lines.append(
            f"|  |  | lm-eval local-completions{note} | {r['wall_lmeval']:.1f} | "
            f"{n / r['wall_lmeval']:.2f} | {r['acc_lmeval']:.4f} |  |  |  |  |"
        )
    lines += [
        "",
        "Wall time: the whole process, start to exit, each harness fresh; items/s = items "
        "over it. The server is the bound (vLLM's CPU build prefills about 200 tokens/s on "
        "its one core here), so the ratio is the server work saved: for MMLU, lm-eval sends "
        "each of the four `question + letter` prompts with prompt log-probabilities (vLLM "
        "then skips its prefix cache), where this harness sends each question once and "
        "reads the four letters from the top log-probabilities of the next token "
        "(`next_token_logprobs`, checked against the echo once). GSM8K generates the same "
        "tokens in both (identical answers), so what differs there is start-up (lm-eval's "
        "imports, `datasets`, tokenizer) and client overhead.",
        END,
    ]
    text = RESULTS.read_text() if RESULTS.exists() else "# Performance results\n"
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
