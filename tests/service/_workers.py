"""Code run in other processes by the load tests (importable by module name).

:func:`voter_process` is one web-app worker's worth of visitors: it opens its own
service and casts votes through it, start to finish. Run as a script, this module is a
writer that prints ``ACK <battle id> <outcome>`` after each committed vote, forever, for
the crash test to kill.
"""

from __future__ import annotations

import sys
from typing import Any

from arena.service import ArenaService, Choice, ServiceConfig

CHOICES = list(Choice)


def _battle_id(ticket: str) -> int:
    return int(ticket.split("-", 1)[0][1:])


def voter_process(
    url: str, models: str, worker: int, votes: int, barrier: Any, results: Any
) -> None:
    """Cast ``votes`` votes through the service; re-vote every 10th (must be refused)."""
    from arena.store import AlreadyVoted

    service = ArenaService.open(url, models, ServiceConfig(rate_limit=None, secret=b"load"))
    voter = f"load-{worker}"
    acks: list[tuple[int, str]] = []
    refused = 0
    errors: list[str] = []
    barrier.wait()
    for i in range(votes):
        try:
            ready = service.generate(service.start_battle(voter, f"worker {worker} q {i}"), voter)
            choice = CHOICES[(worker + i) % 4]
            service.vote(ready, voter, choice)
            acks.append((_battle_id(ready.ticket), choice.outcome))
            if i % 10 == 0:
                try:
                    service.vote(ready, voter, CHOICES[(worker + i + 1) % 4])
                    errors.append(f"second vote on {ready.ticket} accepted")
                except AlreadyVoted:
                    refused += 1
        except Exception as error:  # reported; the test fails on any
            errors.append(f"vote {i}: {type(error).__name__}: {error}")
    service.close()
    results.put((worker, acks, refused, errors))


def writer(url: str, models: str, tag: str) -> None:
    """Vote forever, printing one acknowledgement line per committed vote."""
    service = ArenaService.open(url, models, ServiceConfig(rate_limit=None, secret=b"crash"))
    voter = f"crash-{tag}"
    i = 0
    while True:
        ready = service.generate(service.start_battle(voter, f"{tag} {i}"), voter)
        choice = CHOICES[i % 4]
        service.vote(ready, voter, choice)
        sys.stdout.write(f"ACK {_battle_id(ready.ticket)} {choice.outcome}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    writer(*sys.argv[1:4])
