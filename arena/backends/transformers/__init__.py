"""The ``transformers`` backend: local weights run in-process with PyTorch.

- :mod:`~arena.backends.transformers.backend`: :class:`TransformersBackend` (loading,
  streamed chat and completion, log-likelihood scoring);
- :mod:`~arena.backends.transformers.weights`: where a model's weights come from (folders,
  GGUF files, model packages) and their hashes, without torch;
- :mod:`~arena.backends.transformers.batching`: greedy generation of many prompts in one
  batch (the harness's :class:`~arena.backends.base.BatchGeneration` capability);
- :mod:`~arena.backends.transformers.prefix`: scoring many choices of one context with the
  shared prefix computed once (the :class:`~arena.backends.base.PrefixScoring` capability).

Importing this package imports nothing heavy: torch and transformers are imported by
``backend``, ``batching`` and ``prefix``, which the registry loads when a model of this
kind is made.
"""
