import pytest
import torch

from vaekit.models.checks import check_per_example
from vaekit.objectives import check_per_example as exported
from vaekit.runtime.errors import ConfigError


def test_one_value_per_example_passes_through_and_any_other_shape_names_the_fix():
    values = torch.zeros(3, 4)
    assert check_per_example(values, (3, 4), None) is values
    with pytest.raises(ConfigError, match=r"the likelihood: log_prob returned shape \[3, 4\] where \[3\] .*\.sum\(-1\)"):
        check_per_example(values, (3,), None)
    assert exported is check_per_example  # custom objectives import it from vaekit.objectives
