"""Optional fast paths, each exact against the plain path and chosen in one place.

Nothing outside this package knows how a fast path works: the training loop asks for a step,
evaluation asks for a chunk, and both get ``None`` where no fast path applies.
"""
