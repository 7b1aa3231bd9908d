"""Anomaly scores of a trained run on any data it can read: per example, in nats, higher is
more unusual, with explanations, a stored threshold, and a PyOD-style detector.

The kinds (``nll``, ``elbo``, ``recon``) and what they measure are in
:mod:`vaekit.evaluation.scores` and docs/scores.md. Data come in chunks of ``CHUNK_ROWS``
examples (a ``.npy`` file memory-mapped, a table file by row blocks), so a file of any size is
scored in bounded memory, with the same numbers whatever the chunking: each example's posterior
draws come from a generator seeded by the seed and the example's values.

One module per job: what scoring reads and gives (``records``), reading data in chunks
(``sources``), scoring them (``score``) and writing the scores (``writer``).
"""

from vaekit.scoring.records import CHUNK_ROWS, INFINITE_SHOWN, SCORE_SUFFIXES, ScoreChunk, Scores, ScoreSource
from vaekit.scoring.score import (
    check_background,
    concatenate_scores,
    describe_infinite,
    iter_scores,
    run_calibration,
    score_data,
)
from vaekit.scoring.sources import Examples, score_source, table_codec
from vaekit.scoring.writer import ScoreWriter, score_path

__all__ = [
    "CHUNK_ROWS",
    "INFINITE_SHOWN",
    "SCORE_SUFFIXES",
    "Examples",
    "ScoreChunk",
    "ScoreSource",
    "ScoreWriter",
    "Scores",
    "check_background",
    "concatenate_scores",
    "describe_infinite",
    "iter_scores",
    "run_calibration",
    "score_data",
    "score_path",
    "score_source",
    "table_codec",
]
