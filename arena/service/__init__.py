"""The voting service of the arena web app: battles, votes and the live leaderboard.

Everything the evaluators' pages do, as a library (no Streamlit, no SQL text): draw two
models, stream both answers, take follow-ups and regenerations, detect identity leaks,
rate-limit visitors, record the one vote of each battle, and serve a cached leaderboard::

    from arena.service import ArenaService, Choice

    service = ArenaService.open()            # $ARENA_DATABASE_URL, shipped models file
    round_ = service.start_battle("visitor-token", "Name three rivers.")
    round_ = service.generate(round_, "visitor-token")          # or iterate stream()
    round_ = service.vote(round_, "visitor-token", Choice.A)
    print(round_.vote.label_a, round_.vote.label_b)             # revealed after the vote

Model names never reach the caller before the vote: a :class:`Round` holds a signed
ticket, the messages and the answers only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arena.service.admin import ADMIN_ENV, AdminGate
from arena.service.categories import CATEGORIES, categorize
from arena.service.config import DEFAULT_LEAK_WORDS, ServiceConfig
from arena.service.errors import (
    EmptyPrompt,
    GenerationFailed,
    NoModelsAvailable,
    PromptTooLong,
    RateLimited,
    RoundClosed,
    ServiceError,
    TooManyTurns,
    UnknownRound,
)
from arena.service.leaks import LeakDetector, leak_terms
from arena.service.limits import SharedRateLimiter, check_prompt, client_address
from arena.service.markdown import safe_markdown
from arena.service.pool import ModelPool, ModelState
from arena.service.rounds import Choice, Round, StreamEvent, VoteResult
from arena.service.sampling import Candidate, sample_pair
from arena.service.service import (
    AdminModel,
    ArenaService,
    Availability,
    PublicModel,
    public_label,
)

if TYPE_CHECKING:
    from arena.service.leaderboard import BoardView, LiveLeaderboard

_LAZY = {"BoardView", "LiveLeaderboard"}


def __getattr__(name: str) -> Any:
    """Import the leaderboard (pandas, the ratings engine) on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'arena.service' has no attribute {name!r}")
    from arena.service import leaderboard

    value = getattr(leaderboard, name)
    globals()[name] = value
    return value


__all__ = [
    "ADMIN_ENV",
    "CATEGORIES",
    "DEFAULT_LEAK_WORDS",
    "AdminGate",
    "AdminModel",
    "ArenaService",
    "Availability",
    "BoardView",
    "Candidate",
    "Choice",
    "EmptyPrompt",
    "GenerationFailed",
    "LeakDetector",
    "LiveLeaderboard",
    "ModelPool",
    "ModelState",
    "NoModelsAvailable",
    "PromptTooLong",
    "PublicModel",
    "RateLimited",
    "Round",
    "RoundClosed",
    "ServiceConfig",
    "ServiceError",
    "SharedRateLimiter",
    "StreamEvent",
    "TooManyTurns",
    "UnknownRound",
    "VoteResult",
    "categorize",
    "check_prompt",
    "client_address",
    "leak_terms",
    "public_label",
    "safe_markdown",
    "sample_pair",
]
