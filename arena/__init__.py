"""arena: evaluate language models and rank them the way LMArena does."""

__version__ = "0.1.0"
