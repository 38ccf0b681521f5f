"""Errors the voting service raises.

Each says what was wrong and what to do, in words fit for a visitor's screen (never a
model name before the vote).

Every class is an :class:`arena.errors.UserError`. The store's vote errors
(:class:`arena.store.AlreadyVoted`, :class:`arena.store.UnknownBattle`,
:class:`arena.store.BattleNotReady`) pass through the service unchanged in type, with a
visitor-facing message.
"""

from __future__ import annotations

from arena.errors import UserError

__all__ = [
    "EmptyPrompt",
    "GenerationFailed",
    "NoModelsAvailable",
    "PromptTooLong",
    "RateLimited",
    "RoundClosed",
    "ServiceError",
    "TooManyTurns",
    "UnknownRound",
]


class ServiceError(UserError):
    """A request the voting service refused; nothing was stored for it."""


class EmptyPrompt(ServiceError):
    """The message is empty or only white space."""


class PromptTooLong(ServiceError):
    """The message is longer than the configured limit."""


class TooManyTurns(ServiceError):
    """The conversation already has the configured number of user turns."""


class RateLimited(ServiceError):
    """The visitor sent too many messages in the rate-limit window.

    ``retry_after`` is how many seconds until the next message is accepted.
    """

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class NoModelsAvailable(ServiceError):
    """Fewer than two models can answer (none configured, all inactive or failed to load)."""


class UnknownRound(ServiceError):
    """The round's ticket is malformed, forged, or belongs to another visitor."""


class RoundClosed(ServiceError):
    """The round cannot take this action any more (voted, failed, or still answering)."""


class GenerationFailed(ServiceError):
    """A model could not answer; the battle was marked failed and takes no vote."""
