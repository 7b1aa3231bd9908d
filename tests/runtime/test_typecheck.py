"""Type checks of plain values against type hints: the run config's schema and pieces' options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pytest

from vaekit.runtime.construct import construct
from vaekit.runtime.errors import ConfigError
from vaekit.runtime.registry import Registry
from vaekit.runtime.typecheck import describe, matches, type_error


@pytest.mark.parametrize(
    "value, hint, ok",
    [
        (3, int, True), (True, int, False), (3.0, int, False), ("3", int, False),
        (3, float, True), (0.5, float, True), (False, float, False), ("3e-4", float, False),
        (None, int | None, True), ("relu", str, True), (1, str, False), (True, bool, True), (1, bool, False),
        ([1, 2], Sequence[int], True), ((1, 2), Sequence[int], True), ([1, "x"], Sequence[int], False),
        (64, Sequence[int] | None, False), ("64", Sequence[int], False), ([1], list[int] | None, True),
        ((1, 2), tuple[int, ...], True), ((1, 2), tuple[int, int, int], False),
        ({"a": 1}, dict[str, Any], True), ({1: 1}, dict[str, Any], False), ([("a", 1)], dict[str, Any], False),
        ("b", Literal["a", "b"], True), ("c", Literal["a", "b"], False), (object(), Any, True),
    ],
)  # fmt: skip
def test_values_match_their_hints(value, hint, ok):
    assert matches(value, hint) is ok


@pytest.mark.parametrize(
    "hint, words",
    [
        (int, "an integer"), (float, "a number"), (str | None, "a string or null"), (bool, "true or false"),
        (Sequence[int] | None, "a list of integers or null"), (list[float], "a list of numbers"),
        (dict[str, Any], "a mapping"),
    ],
)  # fmt: skip
def test_hints_are_described_in_words(hint, words):
    assert describe(hint) == words


def test_a_message_names_the_key_the_type_and_the_value():
    assert type_error("model.latent_dim", "two", int) == "model.latent_dim must be an integer, got 'two' (str)"
    assert type_error("model.latent_dim", 2, int) is None


def widths(spec: int, encoder: Sequence[int] | None = (8,), beta: float = 1.0, module: Any = None) -> tuple:
    return spec, encoder, beta


PIECES: Registry = Registry("net", supplied=("spec",), name_attribute=None)
PIECES.register("toy")(widths)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"encoder": 64}, "net 'toy': net.encoder must be a list of integers or null, got 64 (int): a list of one is written [64]"),
        ({"encoder": [64, "x"]}, "net 'toy': net.encoder must be a list of integers or null, got [64, 'x'] (list)"),
        ({"beta": "high"}, "net 'toy': net.beta must be a number, got 'high' (str)"),
    ],
)
def test_a_piece_option_of_the_wrong_type_is_refused_by_its_annotation(options, message):
    with pytest.raises(ConfigError) as info:
        PIECES.build("toy", options, required={"spec": 1})
    assert str(info.value) == message


def test_piece_options_of_the_right_type_and_unchecked_hints_pass():
    assert PIECES.build("toy", {"encoder": (4, 2), "beta": 2}, required={"spec": 1}) == (1, (4, 2), 2)
    # a class annotation is left to the constructor; an annotation that cannot be resolved is skipped
    assert construct(widths, "toy", required={"spec": 1}, options={"module": object()})[0] == 1


def test_the_real_nets_refuse_widths_of_the_wrong_type():
    from vaekit.nets import NetSpec, create_nets

    with pytest.raises(ConfigError, match=r"net.encoder must be a list of integers or null, got 64 \(int\)"):
        create_nets("mlp", NetSpec((5,), 2, 2), encoder=64)
