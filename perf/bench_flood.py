"""Does a hostile model server slow other visitors? A flood of 64 KB chunks every 10 ms.

One process, as in ``arena serve``: an :class:`ArenaService` whose models are two calm
fake models (``--latency`` s per word) and one OpenAI-compatible model served by a local
HTTP server that answers every request with 64 KB chunks every 10 ms and never ends
(``tests/backends/http_server.py``'s ``flood``). Measured:

* ``calm``: seconds per battle of a visitor comparing the two calm models, alone
  (baseline) and while ``--attackers`` threads keep running battles against the flooder;
* ``page``: the same through the Streamlit page (``AppTest`` of the Side-by-side page,
  streaming and all), alone and under the flood;
* what one flooded answer cost: bytes read from the server, characters kept (the cap,
  ``ARENA_MAX_ANSWER_CHARS``), and the process's peak resident memory.

Run from the project root::

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_flood.py [--battles 12] [--attackers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def models_file(folder: Path, url: str, latency: float) -> Path:
    path = folder / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "calm-1"
backend = "fake"
seed = 1
latency = {latency}

[[models]]
name = "calm-2"
backend = "fake"
seed = 2
latency = {latency}

[[models]]
name = "flooder"
backend = "openai"
base_url = "{url}"
model = "flood"
max_retries = 0
""",
        encoding="utf-8",
    )
    return path


def rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--battles", type=int, default=12, help="calm battles per phase")
    parser.add_argument("--attackers", type=int, default=4, help="threads battling the flooder")
    parser.add_argument("--latency", type=float, default=0.02, help="calm models' s per word")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    from arena.service import ArenaService, ServiceConfig
    from arena.store import upgrade
    from tests.backends.http_server import Flood, ScriptedServer, flood

    server = ScriptedServer()
    tmp = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    url = f"sqlite:///{tmp / 'arena.db'}"
    upgrade(url)
    models = models_file(tmp, server.url, args.latency)
    config = ServiceConfig(rate_limit=None)
    service = ArenaService.open(url, models, config)
    records: list[Flood] = []
    stop = threading.Event()
    flooded: list[tuple[str, int]] = []

    def calm_battle(voter: str, i: int) -> float:
        start = time.perf_counter()
        round_ = service.start_side_by_side(voter, "calm-1", "calm-2", f"question {i}")
        ready = service.generate(round_, voter)
        assert ready.status == "ready", ready.message
        return time.perf_counter() - start

    def attacker(n: int) -> None:
        i = 0
        while not stop.is_set():
            record = Flood()
            records.append(record)
            server.queue(flood(record))
            round_ = service.start_side_by_side(f"attacker-{n}", "flooder", "calm-1", f"q{n}-{i}")
            last = list(service.stream(round_, f"attacker-{n}"))[-1]
            answer = last.round.answers_a[-1] if last.round and last.round.answers_a else ""
            flooded.append((last.kind, len(answer)))
            i += 1

    def page_battles(n: int) -> list[float]:
        from streamlit.testing.v1 import AppTest

        os.environ.update(
            ARENA_DATABASE_URL=url, ARENA_MODELS_FILE=str(models), ARENA_RATE_LIMIT="0"
        )
        times = []
        for i in range(n):
            at = AppTest.from_file(str(ROOT / "webapp" / "app.py"), default_timeout=120)
            at.run()
            at.switch_page("views/side_by_side.py").run()
            start = time.perf_counter()
            at.chat_input(key="sbs.prompt").set_value(f"page question {i}").run()
            times.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
            assert not at.button(key="sbs-vote-A").disabled
        return times

    def summary(times: list[float]) -> dict[str, float]:
        ordered = sorted(times)
        return {
            "median_s": round(statistics.median(ordered), 3),
            "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        }

    figures: dict[str, object] = {"battles": args.battles, "attackers": args.attackers}
    service.generate(service.start_side_by_side("warm", "calm-1", "calm-2", "warm up"), "warm")
    page_battles(1)  # warm the page's imports and its service
    figures["calm_alone"] = summary([calm_battle("calm", i) for i in range(args.battles)])
    figures["page_alone"] = summary(page_battles(max(3, args.battles // 3)))
    rss_before = rss_mib()

    threads = [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(4)]
    threads = threads[: args.attackers]
    for t in threads:
        t.start()
    time.sleep(1.0)
    figures["calm_flooded"] = summary(
        [calm_battle("calm", 1000 + i) for i in range(args.battles)]
    )
    figures["page_flooded"] = summary(page_battles(max(3, args.battles // 3)))
    stop.set()
    for t in threads:
        t.join(60)
    server.close()
    service.close()

    done = [r for r in records if r.ended.is_set()]
    figures["flooded_answers"] = len(flooded)
    figures["flooded_outcomes"] = sorted({kind for kind, _ in flooded})
    figures["flooded_chars_max"] = max((n for _, n in flooded), default=0)
    figures["flood_bytes_per_answer_max"] = max((r.bytes for r in done), default=0)
    figures["flood_chunks_per_answer_max"] = max((r.chunks for r in done), default=0)
    figures["rss_peak_mib_before_flood"] = round(rss_before, 1)
    figures["rss_peak_mib_after_flood"] = round(rss_mib(), 1)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
