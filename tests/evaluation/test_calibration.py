"""Stored anomaly thresholds: the quantile rule, flags, empirical p-values, the checks on rates,
reference sets and scores, and the calibration.json round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vaekit.evaluation.calibration import (
    CALIBRATION_FILE,
    MAX_REFERENCE_SCORES,
    calibrate,
    check_rate,
    load_calibration,
    save_calibration,
)
from vaekit.runtime.errors import ConfigError, DataError, RunFolderLockedError


def reference(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(3.0, 2.0, n) + 40.0


def make(scores=None, **options):
    options = {"score": "nll", "k": 100, "weights": "last", "data": "ref.npy", "fpr": 0.05, **options}
    if "contamination" in options:
        options.pop("fpr")
    return calibrate(reference() if scores is None else scores, **options)


def exact_p_values(ref: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.array([(1 + np.sum(ref >= s)) / (len(ref) + 1) for s in scores])


@pytest.mark.parametrize("rule", ["fpr", "contamination"])
@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_the_threshold_is_the_one_minus_rate_quantile_of_the_reference_scores(rule, rate):
    ref = reference()
    cal = make(ref, **{rule: rate})
    assert cal.threshold == pytest.approx(np.quantile(ref, 1 - rate), abs=1e-12)
    assert (cal.rule, cal.rate, cal.n_reference) == (rule, rate, len(ref))
    assert cal.reference == sorted(ref.tolist())


def test_flags_mark_scores_strictly_above_the_threshold():
    ref = np.arange(1.0, 101.0)  # 1..100: the 0.9 quantile is 90.1
    cal = make(ref, contamination=0.1)
    assert cal.threshold == pytest.approx(90.1)
    flags = cal.flags(np.array([90.0, 90.1, 90.2, 500.0, -3.0]))
    assert flags.tolist() == [0, 0, 1, 1, 0]
    assert flags.dtype == np.int8
    # On the reference itself, the share flagged is the contamination.
    assert cal.flags(ref).mean() == pytest.approx(0.1)


def test_p_values_are_the_share_of_reference_scores_at_least_as_high():
    ref = reference(150)
    cal = make(ref)
    scores = np.concatenate([ref[:20], [ref.min() - 1, ref.max() + 1, np.median(ref)], np.linspace(35, 70, 40)])
    p = cal.p_values(scores)
    np.testing.assert_allclose(p, exact_p_values(ref, scores), rtol=0, atol=1e-15)
    assert ((p > 0) & (p <= 1)).all()
    assert cal.p_values(np.array([ref.max() + 1]))[0] == pytest.approx(1 / (len(ref) + 1))
    assert cal.p_values(np.array([ref.min() - 1]))[0] == 1.0
    ordered = np.sort(scores)
    assert (np.diff(cal.p_values(ordered)) <= 0).all()  # higher scores, smaller p-values


def test_a_tie_with_a_reference_score_counts_it():
    cal = make(np.array([1.0, 2.0, 2.0, 3.0]))
    # scores >= 2: three of four -> (1 + 3) / 5
    assert cal.p_values(np.array([2.0]))[0] == pytest.approx(4 / 5)


@pytest.mark.parametrize(
    "contamination, fpr",
    [(0.0, None), (0.7, None), (None, 0.0), (None, 0.51), (-0.1, None), (None, float("nan")), (0.1, 0.1), (None, None)],
)
def test_rates_outside_zero_to_one_half_or_both_or_neither_are_refused(contamination, fpr):
    with pytest.raises(ConfigError, match="--contamination|--fpr"):
        check_rate(contamination, fpr)
    options = {"score": "nll", "k": 10, "weights": "last", "data": "d"}
    with pytest.raises(ConfigError):
        calibrate(reference(), contamination=contamination, fpr=fpr, **options)


def test_rate_checks_name_the_fix():
    with pytest.raises(ConfigError, match=r"\(0, 0.5\]"):
        check_rate(0.7, None)
    with pytest.raises(ConfigError, match="one of --contamination"):
        check_rate(0.1, 0.1)
    assert check_rate(0.5, None) == ("contamination", 0.5)
    assert check_rate(None, 0.01) == ("fpr", 0.01)


@pytest.mark.parametrize("n", [0, 1])
def test_a_reference_set_of_fewer_than_two_examples_is_refused(n):
    with pytest.raises(DataError, match=f"reference set of {n} example"):
        make(np.full(n, 3.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_reference_scores_are_refused(bad):
    scores = reference(10)
    scores[3] = bad
    with pytest.raises(DataError, match="not finite"):
        make(scores)


@pytest.mark.parametrize(
    "score, k, weights",
    [("elbo", 100, "last"), ("recon", None, "last"), ("nll", 50, "last"), ("nll", 100, "best")],
)
def test_check_matches_refuses_another_score_k_or_weights_naming_the_stored_one(score, k, weights):
    cal = make()  # nll, K = 100, last weights
    cal.check_matches("nll", 100, "last")  # the same score passes
    with pytest.raises(ConfigError) as info:
        cal.check_matches(score, k, weights)
    message = str(info.value)
    assert "nll score, K=100, last weights" in message
    assert "--score nll --k 100" in message and "--no-threshold" in message


def test_a_recon_threshold_names_no_k_and_best_weights_name_which():
    cal = make(score="recon", k=None, weights="best")
    cal.check_matches("recon", None, "best")
    with pytest.raises(ConfigError, match="--score recon --which best"):
        cal.check_matches("recon", None, "last")


def test_save_and_load_round_trip(tmp_path):
    cal = make(contamination=0.05, version="9.9")
    path = save_calibration(tmp_path, cal)
    assert path == tmp_path / CALIBRATION_FILE
    assert json.loads(path.read_text())["threshold"] == cal.threshold
    back = load_calibration(tmp_path)
    assert back == cal
    scores = np.linspace(30, 80, 17)
    np.testing.assert_array_equal(back.p_values(scores), cal.p_values(scores))
    np.testing.assert_array_equal(back.flags(scores), cal.flags(scores))
    assert [p.name for p in tmp_path.iterdir()] == [CALIBRATION_FILE]  # no temporary file left


def test_a_run_without_calibration_loads_none(tmp_path):
    assert load_calibration(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2, 3]",
        '{"score": "nll"}',
        None,  # a valid file with an unknown score
        None,  # a valid file without reference scores
    ],
    ids=["not-json", "a-list", "missing-fields", "unknown-score", "no-reference"],
)
def test_a_corrupted_calibration_file_is_a_data_error_naming_the_fix(tmp_path, text, request):
    path = save_calibration(tmp_path, make())
    if text is None:
        raw = json.loads(path.read_text())
        if request.node.callspec.id == "unknown-score":
            raw["score"] = "likelihood"
        else:
            raw["reference"] = []
        text = json.dumps(raw)
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_calibration(tmp_path)
    message = str(info.value)
    assert CALIBRATION_FILE in message and "calibrate again with --calibrate" in message


def test_large_reference_sets_keep_quantiles_and_their_p_values_stay_close(monkeypatch):
    from vaekit.evaluation import calibration

    monkeypatch.setattr(calibration, "MAX_REFERENCE_SCORES", 1000)  # the rule at a size that sorts fast
    n = 30 * 1000 + 7
    ref = np.random.default_rng(1).normal(50.0, 5.0, n)
    cal = make(ref, fpr=0.01)
    assert len(cal.reference) == 1000 and cal.n_reference == n
    assert cal.reference[0] == ref.min() and cal.reference[-1] == ref.max()
    assert (np.diff(cal.reference) >= 0).all()
    assert cal.threshold == pytest.approx(np.quantile(ref, 0.99), abs=1e-12)  # from the whole set
    ordered = np.sort(ref)
    scores = np.concatenate([np.linspace(30, 70, 401), [ref.max() + 1, ref.min() - 1]])
    exact = (1 + n - np.searchsorted(ordered, scores, side="left")) / (n + 1)
    p = cal.p_values(scores)
    np.testing.assert_allclose(p, exact, rtol=0, atol=1.5e-3)  # within about a quantile step (1/1000)
    assert ((p > 0) & (p <= 1)).all()
    assert p[-2] == pytest.approx(1 / (n + 1)) and p[-1] == 1.0
    assert (np.diff(cal.p_values(np.sort(scores))) <= 0).all()
    # The round trip keeps the quantiles and the true count.
    back = calibration.Calibration(**json.loads(json.dumps(cal.__dict__)))
    np.testing.assert_array_equal(back.p_values(scores), p)


def test_calibrating_on_just_over_the_kept_number_of_scores_is_quick():
    import time

    ref = np.random.default_rng(0).normal(50.0, 5.0, MAX_REFERENCE_SCORES + 1)
    started = time.perf_counter()
    cal = make(ref, fpr=0.01)
    seconds = time.perf_counter() - started
    assert len(cal.reference) == MAX_REFERENCE_SCORES
    assert seconds < 1.5, f"calibrate() on {len(ref)} reference scores took {seconds:.1f} s"


def test_a_calibration_is_not_stored_while_a_training_writes_the_run_folder(tmp_path):
    # A `train --force` replacing the run holds the lock: a threshold of the old weights must not land there.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\nfrom vaekit.runtime.lock import run_folder_lock\n"
         "with run_folder_lock(Path(sys.argv[1]), 'train'):\n    print('locked', flush=True)\n    sys.stdin.readline()\n",
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderLockedError, match=r"in use by PID \d+ \(vaekit train"):
            save_calibration(tmp_path, make())
        assert not (tmp_path / CALIBRATION_FILE).exists()
    finally:
        holder.communicate("\n", timeout=60)
    assert save_calibration(tmp_path, make()).exists()
