"""The Python API of DESIGN.md: ``train``, ``load``, ``evaluate`` and the loaded model object.

One module per job: the loaded model (``trained``), making and reading runs (``runs``), the
examples an evaluation reads (``eval_data``) and evaluating (``evaluating``).
"""

from vaekit.api.eval_data import read_whole_file, resolve_eval_data
from vaekit.api.evaluating import evaluate, evaluation_record, save_evaluation
from vaekit.api.runs import build_config, load, read_config, resume, train, training_data_hint
from vaekit.api.trained import TrainedVAE, check_temperature

__all__ = [
    "TrainedVAE",
    "build_config",
    "check_temperature",
    "evaluate",
    "evaluation_record",
    "load",
    "read_config",
    "read_whole_file",
    "resolve_eval_data",
    "resume",
    "save_evaluation",
    "train",
    "training_data_hint",
]
