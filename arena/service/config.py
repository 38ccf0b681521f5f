"""Settings of the voting service: limits, rate limit, generation, leak words, caching."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from arena.backends import SamplingParams
from arena.errors import UserError
from arena.service.generation import Deadlines

if TYPE_CHECKING:
    from arena.service.sampling import AdaptiveSettings

__all__ = ["DEFAULT_LEAK_WORDS", "ServiceConfig"]

#: Names of well-known models and makers that an answer should not reveal in a blind
#: battle, besides the names, display names, organizations and codenames of the
#: configured models (added automatically).
DEFAULT_LEAK_WORDS: tuple[str, ...] = (
    "OpenAI",
    "ChatGPT",
    "GPT-4",
    "GPT-3",
    "Anthropic",
    "Claude",
    "Google DeepMind",
    "DeepMind",
    "Gemini",
    "Gemma",
    "Meta AI",
    "Llama",
    "Mistral AI",
    "Mixtral",
    "Qwen",
    "Alibaba Cloud",
    "DeepSeek",
    "Hugging Face",
    "SmolLM",
    "Microsoft",
    "Phi-3",
    "xAI",
    "Grok",
    "Cohere",
    "Vicuna",
    "LMSYS",
)


@dataclass(frozen=True)
class ServiceConfig:
    """How the voting service behaves.

    Attributes
    ----------
    max_prompt_chars:
        Longest user message accepted, in characters.
    max_turns:
        Most user messages in one battle (the first prompt and its follow-ups).
    rate_limit:
        Messages (new rounds, follow-ups, regenerations) one visitor may send per
        ``rate_window_s``; None turns the limit off.
    rate_window_s:
        Length of the rate-limit window, in seconds.
    client_rate_limit:
        Messages one client address (every session and tab from it together) may send
        per ``rate_window_s``; None turns this limit off. Applies only while
        ``rate_limit`` is on. Both counts are kept in the database, so they hold across
        tabs and server replicas.
    trusted_proxy_header:
        Header that a reverse proxy or load balancer in front of the app sets to the
        client's address (e.g. ``X-Forwarded-For``); None (the default) trusts no
        header, since any visitor can send one.
    trusted_proxy_hops:
        How many proxies of the deployment append to that header (the client is that
        many entries from the right).
    sampling:
        How both models decode their answers (same settings on both sides).
    first_token_timeout_s:
        A side whose first text has not come this many seconds after the request (or
        after its model finished loading) fails the battle.
    idle_timeout_s:
        A side whose answer pauses longer than this between two pieces of text fails
        the battle. There is no total deadline: a slow but steady answer completes.
    load_timeout_s:
        A side whose model is still loading after this many seconds fails the battle.
    max_answer_chars:
        An answer is cut (and ends) at this many characters, whatever the backend sends;
        the token cap is ``sampling.max_new_tokens`` (also counted here, as text chunks).
    extra_leak_words:
        Words that reveal a model's identity, on top of the configured models' own
        names, display names, organizations and codenames.
    leaderboard_ttl_s:
        Age after which the cached leaderboard is refreshed in the background (page
        views keep getting the cached one meanwhile).
    secret:
        Key that signs round tickets; None draws a random one per process (tickets then
        expire when the server restarts). Set ``$ARENA_SECRET`` to keep them valid
        across restarts and processes.
    pair_sampling:
        How anonymous battles draw their two models: ``weighted`` (by the models'
        weights) or ``adaptive`` (towards the pairs that settle the ranking fastest,
        mixed with the weights); see :mod:`arena.service.sampling`.
    adaptive_mix, adaptive_floor:
        The adaptive policy's share against the weights, and the share spread evenly
        over every allowed pair (:class:`arena.service.sampling.AdaptiveSettings`).
    adaptive_refresh_s:
        Least time between two refits of the adaptive policy from the store.
    snapshot_every_s:
        Store the public leaderboard as a snapshot this often (``arena history``);
        None (the default) stores none on a schedule.
    """

    max_prompt_chars: int = 4000
    max_turns: int = 5
    rate_limit: int | None = 20
    rate_window_s: float = 60.0
    client_rate_limit: int | None = 60
    trusted_proxy_header: str | None = None
    trusted_proxy_hops: int = 1
    sampling: SamplingParams = field(
        default_factory=lambda: SamplingParams(max_new_tokens=256, temperature=0.7, top_p=0.95)
    )
    first_token_timeout_s: float = 60.0
    idle_timeout_s: float = 30.0
    load_timeout_s: float = 600.0
    max_answer_chars: int = 8000
    extra_leak_words: tuple[str, ...] = DEFAULT_LEAK_WORDS
    leaderboard_ttl_s: float = 30.0
    secret: bytes | None = None
    pair_sampling: str = "weighted"
    adaptive_mix: float = 0.8
    adaptive_floor: float = 0.1
    adaptive_refresh_s: float = 60.0
    snapshot_every_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_prompt_chars < 1:
            raise UserError(f"max_prompt_chars must be >= 1, got {self.max_prompt_chars}")
        if self.max_turns < 1:
            raise UserError(f"max_turns must be >= 1, got {self.max_turns}")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise UserError(f"rate_limit must be >= 1 or None, got {self.rate_limit}")
        if self.client_rate_limit is not None and self.client_rate_limit < 1:
            raise UserError(
                f"client_rate_limit must be >= 1 or None, got {self.client_rate_limit}"
            )
        if not 1 <= self.trusted_proxy_hops <= 16:
            raise UserError(f"trusted_proxy_hops must be 1 to 16, got {self.trusted_proxy_hops}")
        header = self.trusted_proxy_header
        if header is not None and not (
            0 < len(header) <= 64 and all(c.isascii() and (c.isalnum() or c == "-") for c in header)
        ):
            raise UserError(
                f"trusted_proxy_header must be a header name such as X-Forwarded-For, "
                f"got {self.trusted_proxy_header!r}"
            )
        if not self.rate_window_s > 0:
            raise UserError(f"rate_window_s must be > 0, got {self.rate_window_s}")
        for name in ("first_token_timeout_s", "idle_timeout_s", "load_timeout_s"):
            if not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise UserError(f"{name} must be > 0 seconds, got {getattr(self, name)}")
        if self.max_answer_chars < 1:
            raise UserError(f"max_answer_chars must be >= 1, got {self.max_answer_chars}")
        if not self.leaderboard_ttl_s >= 0:
            raise UserError(f"leaderboard_ttl_s must be >= 0, got {self.leaderboard_ttl_s}")
        from arena.service.sampling import POLICIES

        if self.pair_sampling not in POLICIES:
            raise UserError(
                f"pair sampling must be one of {', '.join(POLICIES)}, got {self.pair_sampling!r}"
            )
        self.adaptive_settings()  # checks mix and floor
        if not (math.isfinite(self.adaptive_refresh_s) and self.adaptive_refresh_s > 0):
            raise UserError(f"adaptive_refresh_s must be > 0, got {self.adaptive_refresh_s}")
        every = self.snapshot_every_s
        if every is not None and not (math.isfinite(every) and every >= 1):
            raise UserError(f"snapshot_every_s must be at least 1 second, got {every}")

    def adaptive_settings(self) -> AdaptiveSettings:
        """The adaptive policy's tuning (raises UserError when out of range)."""
        from arena.service.sampling import AdaptiveSettings

        for name in ("adaptive_mix", "adaptive_floor"):
            if not math.isfinite(getattr(self, name)):
                raise UserError(f"{name} must be a finite number, got {getattr(self, name)}")
        return AdaptiveSettings(mix=self.adaptive_mix, floor=self.adaptive_floor)

    @property
    def deadlines(self) -> Deadlines:
        """The generation deadlines and the character cap, for :mod:`arena.service.generation`."""
        return Deadlines(
            self.first_token_timeout_s,
            self.idle_timeout_s,
            self.load_timeout_s,
            self.max_answer_chars,
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceConfig:
        """Read overrides from ``ARENA_*`` environment variables (the web app's settings).

        ``ARENA_MAX_PROMPT_CHARS``, ``ARENA_MAX_TURNS``, ``ARENA_RATE_LIMIT`` (``0`` turns
        the message limits off), ``ARENA_CLIENT_RATE_LIMIT`` (``0`` turns the per-address
        limit off), ``ARENA_TRUSTED_PROXY_HEADER``, ``ARENA_TRUSTED_PROXY_HOPS``,
        ``ARENA_RATE_WINDOW_S``, ``ARENA_LEADERBOARD_TTL_S``,
        ``ARENA_LEAK_WORDS`` (comma-separated, added to the defaults), ``ARENA_SECRET``,
        and the generation limits ``ARENA_FIRST_TOKEN_TIMEOUT_S``,
        ``ARENA_IDLE_TIMEOUT_S``, ``ARENA_LOAD_TIMEOUT_S``, ``ARENA_MAX_NEW_TOKENS`` and
        ``ARENA_MAX_ANSWER_CHARS``; the pair sampler's ``ARENA_SAMPLING`` (``weighted`` or
        ``adaptive``), ``ARENA_ADAPTIVE_MIX``, ``ARENA_ADAPTIVE_FLOOR``,
        ``ARENA_ADAPTIVE_REFRESH_S``; ``ARENA_SNAPSHOT_EVERY_S`` (``0`` or unset: no
        scheduled leaderboard snapshots).
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}

        def number(name: str, kind: type[int] | type[float]) -> int | float | None:
            raw = env.get(name, "").strip()
            if not raw:
                return None
            try:
                return kind(raw)
            except ValueError:
                raise UserError(f"${name} must be a number, got {raw!r}") from None

        for key, name, kind in (
            ("max_prompt_chars", "ARENA_MAX_PROMPT_CHARS", int),
            ("max_turns", "ARENA_MAX_TURNS", int),
            ("rate_limit", "ARENA_RATE_LIMIT", int),
            ("rate_window_s", "ARENA_RATE_WINDOW_S", float),
            ("client_rate_limit", "ARENA_CLIENT_RATE_LIMIT", int),
            ("trusted_proxy_hops", "ARENA_TRUSTED_PROXY_HOPS", int),
            ("leaderboard_ttl_s", "ARENA_LEADERBOARD_TTL_S", float),
            ("adaptive_mix", "ARENA_ADAPTIVE_MIX", float),
            ("adaptive_floor", "ARENA_ADAPTIVE_FLOOR", float),
            ("adaptive_refresh_s", "ARENA_ADAPTIVE_REFRESH_S", float),
            ("snapshot_every_s", "ARENA_SNAPSHOT_EVERY_S", float),
        ):
            value = number(name, kind)
            if value is not None:
                values[key] = value
        for key, name, kind in (
            ("first_token_timeout_s", "ARENA_FIRST_TOKEN_TIMEOUT_S", float),
            ("idle_timeout_s", "ARENA_IDLE_TIMEOUT_S", float),
            ("load_timeout_s", "ARENA_LOAD_TIMEOUT_S", float),
            ("max_answer_chars", "ARENA_MAX_ANSWER_CHARS", int),
        ):
            value = number(name, kind)
            if value is not None:
                if not (value > 0 and math.isfinite(value)):
                    what = "seconds" if kind is float else "characters"
                    raise UserError(f"${name} must be a number of {what} > 0, got {value!r}")
                values[key] = value
        tokens = number("ARENA_MAX_NEW_TOKENS", int)
        if tokens is not None:
            if tokens < 1:
                raise UserError(f"$ARENA_MAX_NEW_TOKENS must be an integer >= 1, got {tokens}")
            values["sampling"] = dataclasses.replace(cls().sampling, max_new_tokens=int(tokens))
        if values.get("rate_limit") == 0:
            values["rate_limit"] = None
        if values.get("snapshot_every_s") == 0:
            values["snapshot_every_s"] = None
        if values.get("client_rate_limit") == 0:
            values["client_rate_limit"] = None
        header = env.get("ARENA_TRUSTED_PROXY_HEADER", "").strip()
        if header:
            values["trusted_proxy_header"] = header
        extra = [w.strip() for w in env.get("ARENA_LEAK_WORDS", "").split(",") if w.strip()]
        if extra:
            values["extra_leak_words"] = (*DEFAULT_LEAK_WORDS, *extra)
        policy = env.get("ARENA_SAMPLING", "").strip()
        if policy:
            values["pair_sampling"] = policy
        secret = env.get("ARENA_SECRET", "")
        if secret:
            values["secret"] = secret.encode()
        return cls(**values)  # type: ignore[arg-type]
