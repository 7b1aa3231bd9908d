"""The ground floor: atomic file writes, device choice, progress display, errors, registries.

Every other part of vaekit may import this package; it imports nothing of vaekit above it.
"""
