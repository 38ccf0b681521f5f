"""What the web app holds for a visitor: opaque rounds, stream events, vote results.

A :class:`Round` is everything the page needs to show a battle: a signed ticket (the
only reference to the battle), the user's turns and both sides' answers. It never holds
a model name before the vote: in an anonymous battle ``labels`` stays None until the
vote is recorded, then holds the public names (the display names, or the codenames of
preview models the admin has not revealed). In side-by-side mode the visitor chose the
models, so ``labels`` is filled from the start.

Tickets are ``r<battle id>-<signature>``, the signature an HMAC of the battle id and the
visitor's token: a ticket cannot be forged or used by another visitor.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from arena.outcomes import Outcome
from arena.service.errors import UnknownRound

__all__ = ["Choice", "Round", "RoundStatus", "StreamEvent", "Tickets", "VoteResult"]

RoundStatus = Literal["generating", "ready", "failed", "stopped", "voted"]
Side = Literal["a", "b"]


class Choice(enum.StrEnum):
    """The four vote buttons, by their exact labels."""

    A = "A is better"
    B = "B is better"
    TIE = "Tie"
    BOTH_BAD = "Both are bad"

    @property
    def outcome(self) -> str:
        """The stored outcome label (FastChat ``winner``)."""
        return _OUTCOMES[self]


_OUTCOMES = {
    Choice.A: Outcome.A.label,
    Choice.B: Outcome.B.label,
    Choice.TIE: Outcome.TIE.label,
    Choice.BOTH_BAD: Outcome.BOTH_BAD.label,
}


@dataclass(frozen=True)
class VoteResult:
    """A recorded vote and what it reveals.

    Attributes
    ----------
    choice:
        The button the visitor pressed.
    outcome:
        The stored outcome (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``).
    label_a, label_b:
        Public names of the models on side A and side B.
    identity_leak:
        An answer named a model or its maker; the vote is kept but left out of the
        anonymous leaderboard.
    """

    choice: Choice
    outcome: str
    label_a: str
    label_b: str
    identity_leak: bool


@dataclass(frozen=True)
class Round:
    """One battle as the visitor sees it (see the module docstring).

    Attributes
    ----------
    ticket:
        Opaque, signed reference to the battle.
    anonymous:
        True for a blind battle, False in side-by-side mode.
    turns:
        The visitor's messages.
    answers_a, answers_b:
        Each side's finished answers, one per turn (the last turn's are missing while
        generating or after a failure).
    status:
        ``generating`` (answers to stream), ``ready`` (both answers complete: vote,
        follow up or regenerate), ``failed`` (a model could not give a whole answer;
        start a new round), ``stopped`` (the visitor stopped the answers before both
        were complete: no vote; regenerate or start a new round) or ``voted``.
    message:
        Why the round failed or stopped, in words for the visitor (never which side).
    partial:
        A stopped round's last answers as far as they came (shown, never voted).
    labels:
        Public names of side A and side B, when the visitor may know them.
    vote:
        The recorded vote, once voted.
    """

    ticket: str
    anonymous: bool
    turns: tuple[str, ...]
    answers_a: tuple[str, ...] = ()
    answers_b: tuple[str, ...] = ()
    status: RoundStatus = "generating"
    message: str | None = None
    labels: tuple[str, str] | None = None
    vote: VoteResult | None = None
    partial: tuple[str, str] | None = None

    @property
    def can_vote(self) -> bool:
        """Both answers are complete and no vote yet (the store checks it again)."""
        return self.status == "ready"

    @property
    def can_regenerate(self) -> bool:
        """The last turn may be answered afresh (a new battle with the same models)."""
        return self.status in ("ready", "failed", "stopped")

    @property
    def can_stop(self) -> bool:
        """The answers are still coming and may be stopped."""
        return self.status == "generating"


@dataclass(frozen=True)
class StreamEvent:
    """One step of streaming both answers.

    ``kind`` is ``loading`` (a model is still loading; ``side`` is None: the visitor
    is never told which), ``loaded`` (no model is loading any more), ``waiting``
    (nothing new for a while; the answers are still awaited), ``text``
    (``text`` is the side's answer so far, ``complete`` once it is whole), ``done``
    (both answers stored; ``round`` is the ready round), ``failed`` (``text`` says
    why, for the visitor and without naming a side; ``round`` is the failed round) or
    ``stopped`` (the visitor stopped the answers before both were complete; ``round``
    is the stopped round).
    """

    kind: Literal["loading", "loaded", "waiting", "text", "done", "failed", "stopped"]
    side: Side | None = None
    text: str = ""
    round: Round | None = None
    complete: bool = False


_TICKET = re.compile(r"^r([1-9][0-9]{0,18})-([0-9a-f]{32})$")


class Tickets:
    """Signs and checks round tickets with a secret key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, battle_id: int, voter: str) -> str:
        message = f"{battle_id}\x1f{voter}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, battle_id: int, voter: str) -> str:
        """The ticket of ``battle_id`` for this visitor."""
        return f"r{battle_id}-{self._signature(battle_id, voter)}"

    def battle_id(self, ticket: object, voter: str) -> int:
        """The battle id of a ticket this visitor was issued.

        Raises
        ------
        UnknownRound
            Malformed ticket, wrong signature or another visitor's ticket.
        """
        match = _TICKET.match(ticket) if isinstance(ticket, str) else None
        if match is not None:
            battle_id = int(match.group(1))
            if hmac.compare_digest(match.group(2), self._signature(battle_id, voter)):
                return battle_id
        raise UnknownRound(
            "this round is unknown or has expired (the server may have restarted): "
            "start a new round"
        )
