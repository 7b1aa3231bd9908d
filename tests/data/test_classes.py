"""Class labels by number or by an image folder's class name."""

import pytest

from vaekit.data.classes import class_number, describe_classes
from vaekit.runtime.errors import ConfigError


def test_a_name_is_looked_up_before_a_number_so_a_folder_named_2_is_its_own_class():
    names = ["0", "1", "10", "2"]  # sorted as text: the folder "2" is class 3
    assert class_number("2", names) == 3
    assert class_number("10", names) == 2
    assert class_number(" cat ", ["cat", "dog"]) == 0
    assert class_number("1", ["cat", "dog"]) == 1  # not a name: a number
    assert class_number(7, None) == 7 and class_number("7", None) == 7
    with pytest.raises(ConfigError, match=r"label 'fox' is not a class of this run: give one of 'cat', 'dog' or its number"):
        class_number("fox", ["cat", "dog"])
    with pytest.raises(ConfigError, match="give a class number"):
        class_number("fox", None)


def test_classes_are_described_with_their_names_where_they_have_them():
    assert describe_classes(2, ["cat", "dog"]) == "2: 0 = cat, 1 = dog"
    assert describe_classes(10, None) == "10"
    assert describe_classes(None, None) is None
