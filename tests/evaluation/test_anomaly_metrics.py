"""How well scores rank known anomalies: AUROC, AUPRC and precision at the true count against
scikit-learn, and the labels the metrics accept."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from vaekit.evaluation.anomaly_metrics import anomaly_labels, anomaly_metrics
from vaekit.runtime.errors import DataError

SCORES = np.array([0.3, 2.5, 1.1, 0.2, 3.9, 0.9, 1.7, 0.1, 2.2, 0.4])
LABELS = np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 1])


def test_metrics_match_scikit_learn():
    m = anomaly_metrics(SCORES, LABELS)
    assert m["auroc"] == pytest.approx(roc_auc_score(LABELS, SCORES))
    assert m["auprc"] == pytest.approx(average_precision_score(LABELS, SCORES))
    assert 0.5 < m["auroc"] < 1.0 and m["auprc"] < 1.0  # an imperfect ranking
    # The 4 highest scores (3.9, 2.5, 2.2, 1.7) hold 3 of the 4 anomalies.
    assert m["precision_at_n"] == pytest.approx(0.75)
    assert (m["n_anomalies"], m["n"]) == (4, 10)


def test_a_perfect_ranking_scores_one_and_a_reversed_one_zero():
    labels = np.array([0, 0, 0, 1, 1, 0, 1])
    scores = labels * 10.0 + np.arange(7) * 0.1
    m = anomaly_metrics(scores, labels)
    assert m["auroc"] == m["auprc"] == m["precision_at_n"] == 1.0
    reverse = anomaly_metrics(-scores, labels)
    assert reverse["auroc"] == 0.0 and reverse["precision_at_n"] == 0.0


@pytest.mark.parametrize("labels", [np.zeros(10, int), np.ones(10, int), ["normal"] * 10])
def test_labels_of_one_class_are_refused(labels):
    with pytest.raises(DataError, match="only"):
        anomaly_metrics(SCORES, labels)


@pytest.mark.parametrize(
    "labels",
    [
        LABELS.astype(bool),
        LABELS.astype(float),
        ["true" if v else "false" for v in LABELS],
        ["Anomaly" if v else "normal" for v in LABELS],
        ["outlier" if v else "INLIER" for v in LABELS],
        ["yes" if v else "no" for v in LABELS],
        [str(v) for v in LABELS],
    ],
    ids=["bool", "float", "true-false", "anomaly-normal", "outlier-inlier", "yes-no", "digits-as-text"],
)
def test_labels_may_be_booleans_numbers_or_words(labels):
    assert anomaly_labels(labels).tolist() == LABELS.tolist()
    assert anomaly_metrics(SCORES, labels) == anomaly_metrics(SCORES, LABELS)


@pytest.mark.parametrize("labels", [[0, 1, 2, 0], [0, 1, -1, 0], [0.0, 1.0, 0.5, 0.0], ["yes", "no", "maybe", "no"]])
def test_labels_that_are_not_binary_are_refused_naming_a_bad_value(labels):
    with pytest.raises(DataError, match="found"):
        anomaly_labels(labels)
    with pytest.raises(DataError):
        anomaly_metrics(np.arange(4.0), labels)


def test_a_label_count_other_than_the_score_count_is_refused():
    with pytest.raises(DataError, match="9 labels for 10 scored examples"):
        anomaly_metrics(SCORES, LABELS[:9])


def test_bad_labels_are_named_with_their_rows(tmp_path):
    with pytest.raises(DataError, match=r"found nan \(row 3\), 2\.0 \(row 5\); fix or drop those rows"):
        anomaly_labels([0.0, 1.0, float("nan"), 0.0, 2.0])
    with pytest.raises(DataError, match=r"found 'maybe' \(row 2\), 'maybe' \(row 3\), 'x' \(row 4\) and 1 more"):
        anomaly_labels(["yes", "maybe", "maybe", "x", "?"])
    from vaekit.data.tables import read_table

    (tmp_path / "scored.csv").write_text("x,is_anomaly\n1.5,0\n\n2.5,\n3.5,1\n")  # a blank line: line 4 is row 2
    with pytest.raises(DataError, match=r"found nan \(line 4\)"):
        anomaly_labels(read_table(tmp_path / "scored.csv")["is_anomaly"])
