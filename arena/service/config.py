"""Settings of the voting service: limits, rate limit, generation, leak words, caching."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from arena.backends import SamplingParams
from arena.errors import UserError

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
    sampling:
        How both models decode their answers (same settings on both sides).
    generation_timeout_s:
        A side that has not finished its answer by then fails the battle.
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
    """

    max_prompt_chars: int = 4000
    max_turns: int = 5
    rate_limit: int | None = 20
    rate_window_s: float = 60.0
    sampling: SamplingParams = field(
        default_factory=lambda: SamplingParams(max_new_tokens=256, temperature=0.7, top_p=0.95)
    )
    generation_timeout_s: float = 180.0
    extra_leak_words: tuple[str, ...] = DEFAULT_LEAK_WORDS
    leaderboard_ttl_s: float = 30.0
    secret: bytes | None = None

    def __post_init__(self) -> None:
        if self.max_prompt_chars < 1:
            raise UserError(f"max_prompt_chars must be >= 1, got {self.max_prompt_chars}")
        if self.max_turns < 1:
            raise UserError(f"max_turns must be >= 1, got {self.max_turns}")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise UserError(f"rate_limit must be >= 1 or None, got {self.rate_limit}")
        if not self.rate_window_s > 0:
            raise UserError(f"rate_window_s must be > 0, got {self.rate_window_s}")
        if not self.generation_timeout_s > 0:
            raise UserError(f"generation_timeout_s must be > 0, got {self.generation_timeout_s}")
        if not self.leaderboard_ttl_s >= 0:
            raise UserError(f"leaderboard_ttl_s must be >= 0, got {self.leaderboard_ttl_s}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceConfig:
        """Read overrides from ``ARENA_*`` environment variables (the web app's settings).

        ``ARENA_MAX_PROMPT_CHARS``, ``ARENA_MAX_TURNS``, ``ARENA_RATE_LIMIT`` (``0`` turns
        it off), ``ARENA_RATE_WINDOW_S``, ``ARENA_LEADERBOARD_TTL_S``,
        ``ARENA_LEAK_WORDS`` (comma-separated, added to the defaults), ``ARENA_SECRET``.
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
            ("leaderboard_ttl_s", "ARENA_LEADERBOARD_TTL_S", float),
        ):
            value = number(name, kind)
            if value is not None:
                values[key] = value
        if values.get("rate_limit") == 0:
            values["rate_limit"] = None
        extra = [w.strip() for w in env.get("ARENA_LEAK_WORDS", "").split(",") if w.strip()]
        if extra:
            values["extra_leak_words"] = (*DEFAULT_LEAK_WORDS, *extra)
        secret = env.get("ARENA_SECRET", "")
        if secret:
            values["secret"] = secret.encode()
        return cls(**values)  # type: ignore[arg-type]
