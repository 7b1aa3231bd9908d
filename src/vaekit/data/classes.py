"""Class labels by number or by name: an image folder's classes are its sub-folders' names,
numbered in their sorted order, so ``10`` comes before ``2``; a name says which is meant."""

from __future__ import annotations

from collections.abc import Sequence

from vaekit.runtime.errors import ConfigError


def class_number(label: int | str, class_names: Sequence[str] | None) -> int:
    """Return the class number of ``label``: a class name of ``class_names`` (looked up first,
    so a folder named ``2`` is that folder's class whatever its number), else a whole number
    (an int, or text of digits). Raises ``ConfigError`` naming the classes for anything else."""
    if isinstance(label, str):
        text = label.strip()
        if class_names is not None and text in class_names:
            return list(class_names).index(text)
        if text.lstrip("-").isdigit():
            return int(text)
        known = f"one of {', '.join(repr(n) for n in class_names)} or its number" if class_names else "a class number"
        raise ConfigError(f"label {label!r} is not a class of this run: give {known}")
    return int(label)


def describe_classes(num_classes: int | None, class_names: Sequence[str] | None) -> str | None:
    """Return a run's classes in words, e.g. ``3: 0 = cat, 1 = dog, 2 = fox``, or ``10`` for
    classes that are numbers only; None for a run without classes."""
    if num_classes is None:
        return None
    if not class_names:
        return str(num_classes)
    return f"{num_classes}: " + ", ".join(f"{i} = {name}" for i, name in enumerate(class_names))
