"""Anomaly scoring end to end: `vaekit score` on images and tables (file formats, chunks,
explanations, stored thresholds, labels), its bad inputs, the PyOD-style detector, and
`vaekit plot RUN anomalies`."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

import vaekit
from vaekit import scoring
from vaekit.api import resolve_eval_data
from vaekit.cli import main
from vaekit.evaluation.calibration import CALIBRATION_FILE
from vaekit.runtime.errors import DataError


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files of the score writer."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- runs and data ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, digits_run) -> Path:
    """A copy of the shared digits run (calibrations are written into it)."""
    return Path(shutil.copytree(digits_run, tmp_path_factory.mktemp("score") / "digits"))


@pytest.fixture
def fresh_image_run(digits_run, tmp_path) -> Path:
    return Path(shutil.copytree(digits_run, tmp_path / "run"))


@pytest.fixture(scope="module")
def digits_x(digits_run):
    return resolve_eval_data(vaekit.load(digits_run), None, "test")[0].numpy()


@pytest.fixture(scope="module")
def images_npy(tmp_path_factory, digits_x) -> Path:
    """The test digits as images in model units (float32 [N, 8, 8], on a 1/255 grid). Not uint8:
    the digits' own grey levels are 0..16, so a digits run refuses uint8 files as ambiguous."""
    path = tmp_path_factory.mktemp("data") / "digits.npy"
    np.save(path, (np.round(digits_x.reshape(-1, 8, 8) * 255) / 255).astype(np.float32))
    return path


def animals(n: int, seed: int) -> pd.DataFrame:
    """A small table with missing cells: a category, a binary column, a measure and a count."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], size=n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["female", "male"], size=n).astype(object)
    sex[rng.random(n) < 0.1] = None
    length = np.where(species == "Gentoo", 47.0, 39.0) + rng.normal(0, 1.5, n)
    length[rng.random(n) < 0.08] = np.nan
    visits = rng.negative_binomial(2, 0.1, n)
    return pd.DataFrame({"species": species, "sex": sex, "length": np.round(length, 2), "visits": visits})


@pytest.fixture(scope="module")
def table_files(tmp_path_factory):
    """(training CSV, scoring CSV): the scoring rows add a name column, an is_anomaly column and
    six anomalies (a length of 400 mm, or 300 visits)."""
    folder = tmp_path_factory.mktemp("tables")
    animals(200, 0).to_csv(folder / "train.csv", index=False)
    rows = animals(60, 1)
    anomalous = np.zeros(len(rows), dtype=int)
    for i in (3, 17, 29):
        rows.loc[i, "length"] = 400.0
        anomalous[i] = 1
    for i in (8, 41, 55):
        rows.loc[i, "visits"] = 300
        anomalous[i] = 1
    rows.insert(0, "name", [f"animal-{i:03d}" for i in range(len(rows))])
    rows["is_anomaly"] = anomalous
    rows.to_csv(folder / "score.csv", index=False)
    return folder / "train.csv", folder / "score.csv"


@pytest.fixture(scope="module")
def table_run(tmp_path_factory, table_files) -> Path:
    out = tmp_path_factory.mktemp("runs") / "table"
    vaekit.train(
        data=str(table_files[0]), encoder=[16], latent_dim=2, epochs=20, batch_size=32, out=out, progress="quiet"
    )
    return out


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ae"
    vaekit.train(
        data="digits", model="ae", encoder=[16], latent_dim=2, epochs=1, batch_size=64, out=out, progress="quiet"
    )
    return out


# --- images -----------------------------------------------------------------------------------


def pixels(path: Path) -> np.ndarray:
    """The images of a .npy file in model units, as scoring reads it (uint8 as k / 255)."""
    x = np.load(path)
    return x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)


def read_scores(path: Path) -> pd.DataFrame:
    if path.suffix == ".npy":
        return pd.DataFrame({"score": np.load(path)})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".npy"])
def test_score_an_image_npy_writes_one_score_per_example(image_run, images_npy, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    result = ok("score", image_run, "--data", images_npy, "--out", out, "--k", 20, "-q")
    assert f"wrote {out}" in result.output and "scored 360 examples" in result.output
    frame = read_scores(out)
    assert len(frame) == 360
    expected = vaekit.load(image_run).score(pixels(images_npy), k=20)
    np.testing.assert_allclose(frame["score"].to_numpy(), expected, rtol=0, atol=1e-9)
    if suffix != ".npy":
        assert list(frame.columns) == ["index", "score"]
        assert frame["index"].tolist() == list(range(360))
    assert leftovers(tmp_path) == []


def test_a_memory_mapped_npy_scores_as_the_array_in_memory(image_run, images_npy):
    vae = vaekit.load(image_run)
    source = scoring.score_source(vae, images_npy, chunk_rows=1000)
    chunk = next(source.chunks)
    assert source.total == 360 and chunk.x.shape == (360, 64)
    np.testing.assert_array_equal(chunk.x.numpy(), pixels(images_npy).reshape(360, 64))
    from_file = scoring.score_data(vae, images_npy, kind="elbo", k=5, seed=2)
    in_memory = vae.score(pixels(images_npy), "elbo", k=5, seed=2)
    np.testing.assert_array_equal(from_file.scores, in_memory)
    np.testing.assert_array_equal(from_file.ids, np.arange(360))
    # uint8 in memory is ambiguous (8-bit pixels, or a dataset's grey levels): refused.
    with pytest.raises(DataError, match="uint8"):
        vae.score(np.round(np.load(images_npy) * 255).astype(np.uint8))


def test_score_a_dataset_name_and_split(image_run, tmp_path):
    vae = vaekit.load(image_run)
    for split in ("test", "val"):
        out = tmp_path / f"{split}.csv"
        ok("score", image_run, "--data", "digits", "--split", split, "--out", out, "--k", 10, "-q")
        x = resolve_eval_data(vae, None, split)[0]
        np.testing.assert_allclose(pd.read_csv(out)["score"], vae.score(x.numpy(), k=10), rtol=0, atol=1e-9)
    assert len(pd.read_csv(tmp_path / "val.csv")) != len(pd.read_csv(tmp_path / "test.csv"))


@pytest.mark.parametrize("kind", ["nll", "recon"])
def test_scoring_in_chunks_of_7_gives_the_scores_of_one_chunk(image_run, images_npy, tmp_path, kind):
    k = ["--k", 20] if kind == "nll" else []
    ok("score", image_run, "--data", images_npy, "--score", kind, *k, "--out", tmp_path / "one.csv", "-q")
    ok(
        "score",
        image_run,
        "--data",
        images_npy,
        "--score",
        kind,
        *k,
        "--chunk-rows",
        7,
        "--out",
        tmp_path / "many.csv",
        "-q",
    )
    one, many = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "many.csv")
    assert many["index"].tolist() == list(range(360))
    np.testing.assert_allclose(many["score"], one["score"], rtol=0, atol=1e-4)  # float32 batches of other sizes


def test_explain_an_image_run_writes_per_pixel_maps_that_add_up_to_the_score(image_run, images_npy, tmp_path):
    out = tmp_path / "s.csv"
    result = ok("score", image_run, "--data", images_npy, "--k", 16, "--explain", "--out", out, "-q")
    maps_path = tmp_path / "s-maps.npy"
    assert str(maps_path) in result.output
    frame, maps = pd.read_csv(out), np.load(maps_path)
    assert maps.shape == (360, 1, 8, 8) and maps.dtype == np.float32
    assert not any(c.startswith("contribution_pixel_") for c in frame.columns)
    total = maps.reshape(360, -1).sum(1) + frame["contribution_latent"].to_numpy()
    np.testing.assert_allclose(total, frame["score"], rtol=0, atol=1e-3)
    assert leftovers(tmp_path) == []


def test_two_explain_scorings_into_one_out_keep_their_maps_apart(image_run, images_npy, tmp_path, monkeypatch):
    """A second `score --explain` into the same --out, run to its end while the first is between
    chunks, neither writes into the first's maps nor makes it fail: each has a temporary of its own."""
    other = tmp_path / "other.npy"
    np.save(other, 1 - np.load(images_npy))  # as many rows, so the maps have one size
    args = ["--score", "elbo", "--k", 2, "--explain", "--chunk-rows", 100, "-q"]
    ok("score", image_run, "--data", images_npy, *args, "--out", tmp_path / "alone" / "s.csv")
    iter_scores, second = scoring.iter_scores, []

    def the_other_after_the_first_chunk(*a, **kw):
        for i, part in enumerate(iter_scores(*a, **kw)):
            yield part
            if i == 0 and not second:
                second.append(None)  # before invoking: the other's own chunks come through here too
                second[0] = invoke("score", image_run, "--data", other, *args, "--out", tmp_path / "both" / "s.csv")

    monkeypatch.setattr(scoring, "iter_scores", the_other_after_the_first_chunk)
    first = ok("score", image_run, "--data", images_npy, *args, "--out", tmp_path / "both" / "s.csv")
    assert second[0].exit_code == 0, second[0].output
    assert "s-maps.npy" in first.output and "s-maps.npy" in second[0].output
    # the first finished last: both files in place are its own, whole
    np.testing.assert_array_equal(np.load(tmp_path / "both" / "s-maps.npy"), np.load(tmp_path / "alone" / "s-maps.npy"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "both" / "s.csv"), pd.read_csv(tmp_path / "alone" / "s.csv"))
    assert leftovers(tmp_path / "both") == []


def test_explain_clears_the_maps_temporary_of_a_killed_scoring(image_run, images_npy, tmp_path):
    from vaekit.runtime.atomic import _writer_tag

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its PID is that of a writer which has ended, as a `kill -9`'d one has
    stale = tmp_path / f".s-maps.npy.abcdefgh_{_writer_tag()}_{child.pid}.tmp"
    stale.write_bytes(b"half a map")
    ok("score", image_run, "--data", images_npy, "--score", "recon", "--explain", "--out", tmp_path / "s.csv", "-q")
    assert leftovers(tmp_path) == []


def test_labels_file_for_images_prints_auroc(image_run, images_npy, tmp_path):
    vae = vaekit.load(image_run)
    images = np.load(images_npy)
    noisy = images.copy()
    noisy[:20] = np.random.default_rng(0).integers(0, 256, size=noisy[:20].shape) / np.float32(255)
    np.save(tmp_path / "mixed.npy", noisy)
    labels = np.zeros(len(noisy), dtype=int)
    labels[:20] = 1
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "labels.csv").write_text("is_anomaly\n" + "\n".join("yes" if v else "no" for v in labels) + "\n")
    for label_file in ("labels.npy", "labels.csv"):
        result = ok("score", image_run, "--data", tmp_path / "mixed.npy", "--k", 10, "--labels", tmp_path / label_file,
                    "--out", tmp_path / "s.csv", "--no-threshold", "--json", "-q")  # fmt: skip
        record = json.loads(result.stdout)
        from sklearn.metrics import roc_auc_score

        scores = vae.score(noisy, k=10)
        assert record["labels"]["auroc"] == pytest.approx(roc_auc_score(labels, scores))
        assert record["labels"]["auroc"] > 0.95  # noise is far less likely than digits
        assert record["labels"]["n_anomalies"] == 20
    text = ok("score", image_run, "--data", tmp_path / "mixed.npy", "--k", 10, "--labels", tmp_path / "labels.npy",
              "--out", tmp_path / "s.csv", "--no-threshold", "-q").output  # fmt: skip
    assert "AUROC" in text and "against the labels (20 anomalies of 360)" in text


# --- stored thresholds ----------------------------------------------------------------------------


def test_calibrate_stores_a_threshold_that_later_scores_are_flagged_by(fresh_image_run, images_npy, tmp_path):
    run = fresh_image_run
    result = ok("score", run, "--data", images_npy, "--calibrate", "--fpr", 0.05, "--k", 20, "-q")
    assert "stored the threshold in calibration.json" in result.output
    stored = json.loads((run / CALIBRATION_FILE).read_text())
    assert (stored["score"], stored["k"], stored["weights"], stored["rule"], stored["rate"]) == (
        "nll",
        20,
        "last",
        "fpr",
        0.05,
    )
    assert stored["n_reference"] == 360
    vae = vaekit.load(run)
    reference = vae.score(pixels(images_npy), k=20)
    assert stored["threshold"] == pytest.approx(np.quantile(reference, 0.95))

    out = tmp_path / "s.csv"
    result = ok("score", run, "--data", images_npy, "--k", 20, "--out", out, "-q")
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["index", "score", "flag", "p_value"]
    assert frame["flag"].tolist() == (frame["score"] > stored["threshold"]).astype(int).tolist()
    assert frame["flag"].sum() == 18  # 5 % of the 360 reference examples, scored again
    assert f"flagged 18 of 360 above {stored['threshold']:.4f}" in result.output
    assert ((frame["p_value"] > 0) & (frame["p_value"] <= 1)).all()
    ordered = frame.sort_values("score")
    assert (np.diff(ordered["p_value"]) <= 0).all()
    # The highest score is a reference score: itself and no other reference score reach it.
    assert frame.loc[frame["score"].idxmax(), "p_value"] == pytest.approx(2 / 361)


@pytest.mark.parametrize("other", [["--score", "elbo"], ["--score", "recon"], ["--k", "21"], ["--which", "best"]])
def test_scoring_otherwise_than_the_threshold_is_refused_unless_no_threshold(
    fresh_image_run, images_npy, tmp_path, other
):
    run = fresh_image_run
    ok("score", run, "--data", images_npy, "--calibrate", "--contamination", 0.1, "--k", 20, "-q")
    out = tmp_path / "s.csv"
    k = [] if "--k" in other or "--score" in other else ["--k", 20]
    result = invoke("score", run, "--data", images_npy, *other, *k, "--out", out, "-q")
    assert result.exit_code == 2
    assert "the run's threshold was calibrated on the nll score, K=20" in result.output
    assert "--score nll --k 20" in result.output and "Traceback" not in result.output
    assert not out.exists() and leftovers(tmp_path) == []
    ok("score", run, "--data", images_npy, *other, *k, "--no-threshold", "--out", out, "-q")
    assert list(pd.read_csv(out).columns) == ["index", "score"]


def test_calibrate_also_writes_the_reference_scores(fresh_image_run, images_npy, tmp_path):
    out = tmp_path / "ref.csv"
    ok(
        "score",
        fresh_image_run,
        "--data",
        images_npy,
        "--calibrate",
        "--contamination",
        0.1,
        "--score",
        "recon",
        "--out",
        out,
        "-q",
    )
    stored = json.loads((fresh_image_run / CALIBRATION_FILE).read_text())
    assert stored["k"] is None and stored["score"] == "recon"
    assert sorted(pd.read_csv(out)["score"]) == pytest.approx(stored["reference"])


# --- tables -------------------------------------------------------------------------------------


def test_rows_far_outside_the_training_data_score_inf_and_cells_beyond_float32_are_refused(table_run, table_files, tmp_path):
    rows = animals(6, 2)
    rows.loc[2, "length"] = 1e7  # millions of spreads out: the posterior's float32 arithmetic overflows
    rows.to_csv(tmp_path / "far.csv", index=False)
    result = invoke("score", table_run, "--data", tmp_path / "far.csv", "--out", tmp_path / "far-scores.csv")
    assert result.exit_code == 0, result.output
    scores = read_scores(tmp_path / "far-scores.csv")["score"].to_numpy()
    assert np.isposinf(scores[2]) and np.isfinite(np.delete(scores, 2)).all()
    assert (
        "1 example(s) scored inf (probability 0 under the model): row 3 (values too far outside the training data: "
        "its score overflows float32)"
    ) in result.output
    rows.loc[2, "length"] = 1e300  # beyond float32 once standardised: refused, naming the cell
    rows.to_csv(tmp_path / "huge.csv", index=False)
    result = invoke("score", table_run, "--data", tmp_path / "huge.csv", "--out", tmp_path / "huge-scores.csv")
    assert result.exit_code == 2 and "column 'length' has cells too large to encode" in result.stderr
    assert not (tmp_path / "huge-scores.csv").exists()
    for data, said in (("far.csv", "1 row(s) (index 2) lie so far outside"), ("huge.csv", "too large to encode")):
        result = invoke("impute", table_run, "--data", tmp_path / data, "--out", tmp_path / "filled.csv")
        assert result.exit_code == 2 and said in result.stderr
        assert not (tmp_path / "filled.csv").exists()


def test_score_a_table_with_missing_cells_ids_labels_and_explanations(table_run, table_files, tmp_path):
    _, score_csv = table_files
    out = tmp_path / "rows.csv"
    result = ok("score", table_run, "--data", score_csv, "--id-column", "name", "--labels", "is_anomaly", "--explain",
                "--k", 20, "--out", out, "--json", "-q")  # fmt: skip
    record = json.loads(result.stdout)
    frame = pd.read_csv(out)
    rows = pd.read_csv(score_csv)
    assert rows.isna().any().any()  # the scored rows have missing cells
    assert frame["name"].tolist() == rows["name"].tolist()
    assert frame.columns[:2].tolist() == ["name", "score"]
    assert np.isfinite(frame["score"]).all()
    contributions = [c for c in frame.columns if c.startswith("contribution_")]
    assert contributions == [f"contribution_{c}" for c in ("species", "sex", "length", "visits", "latent", "units")]
    np.testing.assert_allclose(frame[contributions].sum(axis=1), frame["score"], rtol=0, atol=1e-6)
    # The anomalies' unusual columns carry their scores.
    assert (frame.loc[[3, 17, 29], "contribution_length"] > frame["contribution_length"].median() + 5).all()
    assert (frame.loc[[8, 41, 55], "contribution_visits"] > frame["contribution_visits"].median() + 5).all()
    assert record["labels"]["n_anomalies"] == 6 and record["labels"]["auroc"] > 0.95
    # The same numbers through the API (the name and label columns are not the model's).
    vae = vaekit.load(table_run)
    api_scores = vae.score(rows.drop(columns=["name", "is_anomaly"]), k=20)
    np.testing.assert_allclose(frame["score"], api_scores, rtol=0, atol=1e-9)


def test_a_table_column_the_model_never_saw_must_be_named(table_run, table_files, tmp_path):
    _, score_csv = table_files
    result = invoke("score", table_run, "--data", score_csv, "--out", tmp_path / "s.csv", "-q")
    assert result.exit_code == 2 and "name" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.csv").exists() and leftovers(tmp_path) == []




def test_a_csv_read_in_chunks_gives_the_rows_of_the_whole_file(table_files):
    from vaekit.data.tables import iter_table_chunks, read_table

    _, score_csv = table_files
    whole = read_table(score_csv)
    first = next(iter_table_chunks(score_csv, 25))  # the header line is one of the first block's 25
    assert 0 < len(first) <= 25 and list(first.columns) == list(whole.columns)
    pd.testing.assert_frame_equal(first, whole.iloc[: len(first)], check_dtype=False)


def test_every_chunk_of_a_csv_holds_its_own_rows(table_files):
    from vaekit.data.tables import iter_table_chunks, read_table

    _, score_csv = table_files
    whole = read_table(score_csv)
    chunks = list(iter_table_chunks(score_csv, 25))
    assert all(len(c) <= 25 for c in chunks)
    joined = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole, check_dtype=False)


@pytest.mark.parametrize(
    "suffix, kind",
    [
        pytest.param(".parquet", "recon"),
        (".csv", "recon"),
        (".parquet", "nll"),
    ],
)
def test_a_table_scored_in_chunks_of_7_rows_gives_the_scores_of_one_chunk(
    table_run, table_files, tmp_path, suffix, kind
):
    _, score_csv = table_files
    data = score_csv
    if suffix == ".parquet":
        data = tmp_path / "rows.parquet"
        pd.read_csv(score_csv).to_parquet(data)
    common = ["--data", data, "--id-column", "name", "--labels", "is_anomaly", "--score", kind, "--explain", "-q"]
    k = ["--k", 10] if kind == "nll" else []
    ok("score", table_run, *common, *k, "--out", tmp_path / "one.csv")
    ok("score", table_run, *common, *k, "--chunk-rows", 7, "--out", tmp_path / "many.csv")
    one, many = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "many.csv")
    assert many["name"].tolist() == one["name"].tolist() == pd.read_csv(score_csv)["name"].tolist()
    pd.testing.assert_frame_equal(many, one, check_exact=False, atol=1e-4, rtol=0)


def test_a_table_threshold_flags_the_anomalies(table_run, table_files, tmp_path):
    train_csv, score_csv = table_files
    run = Path(shutil.copytree(table_run, tmp_path / "run"))
    ok("score", run, "--data", train_csv, "--calibrate", "--fpr", 0.02, "--score", "recon", "-q")
    ok("score", run, "--data", score_csv, "--id-column", "name", "--labels", "is_anomaly", "--score", "recon",
       "--out", tmp_path / "s.csv", "-q")  # fmt: skip
    frame = pd.read_csv(tmp_path / "s.csv")
    truth = pd.read_csv(score_csv)["is_anomaly"]
    assert frame.loc[truth == 1, "flag"].all()
    assert frame.loc[truth == 0, "flag"].mean() < 0.15


# --- bad inputs ---------------------------------------------------------------------------------



def bad_case_files(folder: Path, images_npy: Path, table_files) -> dict[str, Path]:
    images = np.load(images_npy)
    np.save(folder / "one.npy", images[:1])
    np.save(folder / "seven.npy", np.zeros((5, 7, 7), dtype=np.uint8))
    np.save(folder / "zeros.npy", np.zeros(len(images), dtype=int))
    np.save(folder / "short.npy", np.arange(len(images) - 1) % 2)
    np.save(folder / "floats.npy", images.astype(np.float32) / 255)
    rows = pd.read_csv(table_files[1])
    rows.drop(columns=["visits"]).to_csv(folder / "no-visits.csv", index=False)
    rows.assign(is_anomaly=0).to_csv(folder / "one-class.csv", index=False)
    rows.drop(columns=["name", "is_anomaly"]).to_csv(folder / "plain.csv", index=False)
    names = ("one", "seven", "zeros", "short", "floats")
    return {name: folder / f"{name}.npy" for name in names}


BAD_INPUTS = [
    pytest.param("image", ["--data", "{one}", "--calibrate", "--fpr", "0.05"], "reference set of 1 example", id="one-reference-example"),
    pytest.param("image", ["--data", "{images}", "--calibrate", "--contamination", "0"], "(0, 0.5]", id="contamination-0"),
    pytest.param("image", ["--data", "{images}", "--calibrate", "--contamination", "0.7"], "(0, 0.5]", id="contamination-0.7"),
    pytest.param("image", ["--data", "{images}", "--calibrate", "--contamination", "0.1", "--fpr", "0.1"], "one of --contamination", id="contamination-and-fpr"),
    pytest.param("image", ["--data", "{images}", "--calibrate"], "one of --contamination", id="calibrate-without-a-rate"),
    pytest.param("image", ["--data", "{images}", "--fpr", "0.1"], "add --calibrate", id="rate-without-calibrate"),
    pytest.param("image", ["--data", "{images}", "--labels", "{zeros}"], "normal examples only", id="labels-of-one-class"),
    pytest.param("image", ["--data", "{images}", "--labels", "{short}"], "359 labels for 360 scored examples", id="labels-of-another-count"),
    pytest.param("image", ["--data", "{images}", "--labels", "{tmp}/nope.npy"], "no such file", id="labels-file-missing"),
    pytest.param("cvae", ["--data", "{floats}"], "needs each example's class", id="conditional-without-classes"),
    pytest.param("ae", ["--data", "{images}", "--score", "nll"], "no posterior", id="nll-of-an-autoencoder"),
    pytest.param("ae", ["--data", "{images}", "--score", "elbo"], "no posterior", id="elbo-of-an-autoencoder"),
    pytest.param("image", ["--data", "{seven}"], "this run's model takes 64", id="npy-of-other-dims"),
    pytest.param("image", ["--data", "{tmp}/nope.npy"], "nope.npy", id="missing-data-file"),
    pytest.param("image", ["--data", "{images}", "--score", "recon", "--k", "5"], "recon takes none", id="k-for-recon"),
    pytest.param("table", ["--data", "{tmp}/no-visits.csv", "--id-column", "name", "--labels", "is_anomaly"], "visits", id="table-missing-a-column"),
    pytest.param("table", ["--data", "{tmp}/one-class.csv", "--id-column", "name", "--labels", "is_anomaly"], "normal examples only", id="table-labels-of-one-class"),
    pytest.param("table", ["--data", "{tmp}/plain.csv", "--id-column", "nope"], "--id-column 'nope'", id="unknown-id-column"),
    pytest.param("table", ["--data", "{table}", "--id-column", "name", "--labels", "nope"], "--labels 'nope'", id="unknown-label-column"),
    pytest.param("table", ["--data", "{table}", "--id-column", "name", "--labels", "is_anomaly", "--explain", "--out-npy"], "--explain adds columns", id="table-explanations-to-npy"),
    pytest.param("image", ["--data", "{images}", "--out-xlsx"], "scores are written as", id="unknown-out-suffix"),
]  # fmt: skip


@pytest.mark.parametrize("run_kind, args, message", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_leaves_no_file(
    run_kind, args, message, image_run, ae_run, table_run, cvae_run, images_npy, table_files, tmp_path
):
    files = bad_case_files(tmp_path, images_npy, table_files)
    run = {"image": image_run, "ae": ae_run, "table": table_run, "cvae": cvae_run}[run_kind]
    if run_kind == "image":
        run = Path(shutil.copytree(run, tmp_path / "run"))  # a calibration must not land in the shared copy
    before = sorted(p.name for p in run.iterdir())
    out_folder = tmp_path / "out"
    out_folder.mkdir()
    out = out_folder / "scores.csv"
    if args[-1].startswith("--out-"):
        out = out_folder / f"scores.{args[-1][len('--out-') :]}"
        args = args[:-1]
    names = {"tmp": tmp_path, "images": images_npy, "table": table_files[1], **files}
    result = invoke("score", run, *[a.format(**names) for a in args], "--out", out, "-q")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.output.rstrip().endswith(errors[0])  # one line, the last
    assert sorted(p.name for p in run.iterdir()) == before  # no calibration.json
    assert list(out_folder.iterdir()) == []  # neither the file nor a temporary one


def test_a_failure_mid_way_leaves_an_existing_output_file_untouched(image_run, images_npy, tmp_path, monkeypatch):
    out = tmp_path / "scores.csv"
    out.write_text("index,score\n0,1.0\n")
    real = scoring.iter_scores
    seen = []

    def fail_after_one_chunk(*args, **kwargs):
        for part in real(*args, **kwargs):
            seen.append(len(part.scores))
            if len(seen) == 2:
                raise DataError("the disk went away")
            yield part

    monkeypatch.setattr(scoring, "iter_scores", fail_after_one_chunk)
    result = invoke("score", image_run, "--data", images_npy, "--k", 5, "--chunk-rows", 100, "--out", out, "-q")
    assert result.exit_code == 2 and "the disk went away" in result.output
    assert seen == [100, 100]  # the first chunk was written before the failure
    assert out.read_text() == "index,score\n0,1.0\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_a_keyboard_interrupt_mid_way_removes_the_temporary_file(image_run, images_npy, tmp_path, monkeypatch, suffix):
    real = scoring.iter_scores

    def interrupted(*args, **kwargs):
        for i, part in enumerate(real(*args, **kwargs)):
            if i == 1:
                raise KeyboardInterrupt
            yield part

    monkeypatch.setattr(scoring, "iter_scores", interrupted)
    out = tmp_path / f"scores{suffix}"
    result = invoke("score", image_run, "--data", images_npy, "--k", 5, "--chunk-rows", 100, "--out", out, "-q")
    assert result.exit_code != 0
    assert list(tmp_path.iterdir()) == []


def test_a_conditional_run_scores_an_npz_with_classes_as_its_own_split(cvae_run, tmp_path):
    vae = vaekit.load(cvae_run)
    x, y = resolve_eval_data(vae, None, "test")
    np.savez(tmp_path / "xy.npz", x=x.numpy(), y=y.numpy())
    ok("score", cvae_run, "--data", tmp_path / "xy.npz", "--k", 10, "--out", tmp_path / "a.csv", "-q")
    ok("score", cvae_run, "--data", "digits", "--k", 10, "--out", tmp_path / "b.csv", "-q")
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    np.testing.assert_array_equal(a["score"], b["score"])
    # The class matters: the same images under other classes score otherwise.
    np.savez(tmp_path / "other.npz", x=x.numpy(), y=((y + 1) % 10).numpy())
    ok("score", cvae_run, "--data", tmp_path / "other.npz", "--k", 10, "--out", tmp_path / "c.csv", "-q")
    assert np.abs(pd.read_csv(tmp_path / "c.csv")["score"] - a["score"]).max() > 0.1


def test_parquet_scores_of_chunks_whose_ids_change_type_are_written_or_refused_cleanly(
    table_run, table_files, tmp_path
):
    rows = pd.read_csv(table_files[1]).drop(columns=["name", "is_anomaly"])
    ids = pd.array(list(range(len(rows))), dtype="Int64")
    ids[20] = pd.NA  # in the third chunk of 7
    rows.insert(0, "number", ids)
    rows.to_parquet(tmp_path / "rows.parquet")
    out = tmp_path / "out" / "scores.parquet"
    result = invoke("score", table_run, "--data", tmp_path / "rows.parquet", "--id-column", "number", "--chunk-rows", 7,
                    "--score", "recon", "--out", out, "-q")  # fmt: skip
    assert result.exit_code in (0, 2), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert len(pd.read_parquet(out)) == len(rows)
    else:
        assert not out.exists()


def test_scoring_an_npy_file_prints_no_warning(image_run, images_npy, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "s.csv"
    done = subprocess.run(
        [sys.executable, "-m", "vaekit.cli", "score", str(image_run), "--data", str(images_npy), "--k", "5",
         "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.exists()
    assert "Warning" not in done.stderr, done.stderr


# --- the detector -------------------------------------------------------------------------------


def test_the_detector_follows_pyod_conventions_on_an_array(digits_x, tmp_path):
    detector = vaekit.AnomalyDetector(contamination=0.1, k=10, out=tmp_path / "run", encoder=[32], latent_dim=2,
                                      epochs=20, batch_size=32)  # fmt: skip
    assert detector.fit(digits_x) is detector
    n = len(digits_x)
    assert detector.decision_scores_.shape == (n,)
    assert detector.threshold_ == pytest.approx(np.quantile(detector.decision_scores_, 0.9))
    assert abs(detector.labels_.mean() - 0.1) <= 1 / n
    assert detector.labels_.tolist() == (detector.decision_scores_ > detector.threshold_).astype(int).tolist()
    np.testing.assert_array_equal(detector.decision_function(digits_x), detector.decision_scores_)
    np.testing.assert_array_equal(detector.predict(digits_x), detector.labels_)
    np.testing.assert_array_equal(detector.score_samples(digits_x), -detector.decision_scores_)
    noise = np.random.default_rng(0).random((10, 64))
    assert detector.predict(noise).all()  # noise is unusual
    assert (tmp_path / "run" / "config.json").exists()
    proba = detector.predict_proba(digits_x)
    assert proba.shape == (n, 2) and np.allclose(proba.sum(1), 1) and proba[:, 1].min() == 0 and proba[:, 1].max() == 1
    assert (detector.predict_proba(noise)[:, 1] == 1).all()
    from sklearn.base import clone

    twin = clone(detector)
    assert twin.get_params() == detector.get_params() and twin.get_params()["encoder"] == [32]
    assert twin.set_params(contamination=0.2, epochs=3) is twin and twin.train_options["epochs"] == 3
    assert twin.contamination == 0.2 and detector.train_options["epochs"] == 20


def test_the_detector_on_a_data_frame_with_missing_cells(table_files):
    train_csv, score_csv = table_files
    frame = pd.read_csv(train_csv)
    detector = vaekit.AnomalyDetector(contamination=0.05, score="elbo", k=5, encoder=[16], latent_dim=2, epochs=20,
                                      batch_size=32, progress="quiet")  # fmt: skip
    labels = detector.fit_predict(frame)
    assert labels.tolist() == detector.labels_.tolist()
    assert abs(labels.mean() - 0.05) <= 1 / len(frame)
    np.testing.assert_array_equal(detector.score_samples(frame), -detector.decision_function(frame))
    rows = pd.read_csv(score_csv)
    scores = detector.decision_function(rows.drop(columns=["name", "is_anomaly"]))
    truth = rows["is_anomaly"].to_numpy()
    assert scores[truth == 1].min() > np.median(scores[truth == 0])


def test_uint8_npy_files_are_8_bit_pixels_for_an_8_bit_run_and_refused_for_the_digits(images_npy, image_run, tmp_path):
    eight_bit = np.round(np.load(images_npy) * 255).astype(np.uint8)
    np.save(tmp_path / "u8.npy", eight_bit)
    refused = invoke("score", image_run, "--data", tmp_path / "u8.npy", "--out", tmp_path / "s.csv", "-q")
    assert refused.exit_code == 2 and "17 grey levels" in refused.output and not (tmp_path / "s.csv").exists()
    run = vaekit.train(data=str(tmp_path / "u8.npy"), encoder=[8], latent_dim=2, epochs=1, out=tmp_path / "r8", progress="quiet")
    ok("score", tmp_path / "r8", "--data", tmp_path / "u8.npy", "--score", "recon", "--out", tmp_path / "s.csv", "-q")
    np.testing.assert_allclose(read_scores(tmp_path / "s.csv")["score"], run.score(eight_bit / np.float32(255), "recon"), atol=1e-9)


def test_the_detector_fits_uint8_images(images_npy):
    images = np.round(np.load(images_npy) * 255).astype(np.uint8)
    detector = vaekit.AnomalyDetector(contamination=0.1, k=5, encoder=[16], latent_dim=2, epochs=1, batch_size=64)
    detector.fit(images)
    assert detector.decision_scores_.shape == (len(images),)
    np.testing.assert_allclose(detector.decision_scores_, detector.decision_function(images.astype(np.float32) / 255))


def test_an_unfitted_detector_and_bad_options_are_refused():
    from vaekit.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="not fitted"):
        vaekit.AnomalyDetector().decision_function(np.zeros((2, 4)))
    with pytest.raises(ConfigError, match=r"\(0, 0.5\]"):
        vaekit.AnomalyDetector(contamination=0.6)
    with pytest.raises(ConfigError, match=r"first argument is the contamination .*vaekit.load\(RUN\).score\(X\)"):
        vaekit.AnomalyDetector("runs/digits")


# --- pictures -----------------------------------------------------------------------------------


def assert_png(path: Path, min_width: int, min_height: int) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[1] >= min_width and pixels.shape[0] >= min_height
    assert pixels.shape[1] <= 4000 and pixels.shape[0] <= 4000
    assert pixels.std() > 5


def test_plot_anomalies_of_an_image_run(image_run, images_npy, tmp_path):
    out = tmp_path / "a.png"
    result = ok("plot", image_run, "anomalies", "--data", images_npy, "-n", 4, "--k", 10, "--out", out)
    assert f"wrote {out}" in result.output
    assert_png(out, 300, 250)


def test_plot_anomalies_of_a_table_run(table_run, table_files, tmp_path):
    out = tmp_path / "a.png"
    rows = pd.read_csv(table_files[1]).drop(columns=["name", "is_anomaly"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    ok("plot", table_run, "anomalies", "--data", tmp_path / "rows.csv", "-n", 4, "--score", "recon", "--out", out)
    assert_png(out, 300, 200)


# --- mends after review ------------------------------------------------------------------------


def test_a_text_file_or_image_folder_is_scored_whole_in_its_own_order(image_run, tmp_path):
    from PIL import Image

    from vaekit.data import load_data

    vae = vaekit.load(image_run)
    grey = load_data("digits").as_float("test").numpy()[:50]
    np.savetxt(tmp_path / "new.csv", grey, delimiter=",")
    ok("score", image_run, "--data", tmp_path / "new.csv", "--out", tmp_path / "s.csv", "--no-threshold", "-q")
    written = pd.read_csv(tmp_path / "s.csv")
    assert list(written["index"]) == list(range(50))
    np.testing.assert_allclose(written["score"], vae.score(grey), atol=1e-9)
    (tmp_path / "images").mkdir()
    levels = np.round(grey * 16).astype(np.uint8).reshape(-1, 8, 8)
    for i, image in enumerate(levels[:30]):
        Image.fromarray(image * 17).save(tmp_path / "images" / f"{i:03d}.png")
    ok("score", image_run, "--data", tmp_path / "images", "--out", tmp_path / "i.csv", "--no-threshold", "-q")
    by_file = pd.read_csv(tmp_path / "i.csv")
    assert list(by_file["file"]) == [f"{i:03d}.png" for i in range(30)]  # each score names its image


def test_a_threshold_is_refused_once_the_run_trained_on(tmp_path):
    run = tmp_path / "r"
    vaekit.train(data="digits", encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    ok("score", run, "--data", "digits", "--score", "recon", "--calibrate", "--fpr", "0.1", "-q")
    vaekit.resume(run, epochs=2, progress="quiet")
    refused = invoke("score", run, "--data", "digits", "--score", "recon", "--out", tmp_path / "s.csv", "-q")
    assert refused.exit_code == 2 and "calibrate again" in refused.output and "step" in refused.output
    ok("score", run, "--data", "digits", "--score", "recon", "--out", tmp_path / "s.csv", "--no-threshold", "-q")


def test_the_detector_keeps_a_folder_of_other_files_and_leaves_no_data_copy(tmp_path, digits_x):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("important")
    detector = vaekit.AnomalyDetector(score="recon", out=mine, encoder=[8], latent_dim=2, epochs=1)
    from vaekit.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="not a vaekit run"):
        detector.fit(digits_x)
    assert (mine / "notes.txt").read_text() == "important"
    run = tmp_path / "run"
    vaekit.AnomalyDetector(score="recon", out=run, encoder=[8], latent_dim=2, epochs=1).fit(digits_x)
    vaekit.AnomalyDetector(score="recon", out=run, encoder=[8], latent_dim=2, epochs=1).fit(digits_x)  # replaces its run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "run"]


def test_a_dequantising_runs_nll_scores_are_in_the_discrete_datas_units(tmp_path):
    run = tmp_path / "dq"
    vae = vaekit.train(data="digits", dequantize="uniform", likelihood="gaussian", encoder=[8], latent_dim=2, epochs=1,
                       out=run, progress="quiet")  # fmt: skip
    report = vaekit.evaluate(vae, k=20, probe=False)
    x, _ = resolve_eval_data(vae, None, "test")
    scores = vaekit.scoring.score_data(vae, vaekit.scoring.Examples(x), kind="nll", k=20, explain=True)
    assert abs(scores.scores.mean() - report["nll"]) < 0.5  # other draws, same quantity
    offset = 64 * np.log(17)
    np.testing.assert_allclose(scores.units, offset)
    np.testing.assert_allclose(scores.contributions.sum(1) + scores.latent + scores.units, scores.scores, atol=1e-9)


def test_label_files_written_by_numpy_with_floats_are_read(image_run, images_npy, tmp_path):
    labels = np.zeros(360)
    labels[:30] = 1
    np.savetxt(tmp_path / "labels.txt", labels)
    result = ok("score", image_run, "--data", images_npy, "--labels", tmp_path / "labels.txt", "--score", "recon",
                "--out", tmp_path / "s.csv", "--no-threshold", "--json", "-q")  # fmt: skip
    record = json.loads(result.stdout)
    assert record["labels"]["n_anomalies"] == 30 and record["labels"]["n"] == 360


def test_score_files_follow_the_umask_and_an_out_below_a_file_is_refused(image_run, images_npy, tmp_path):
    from vaekit.runtime.atomic import current_umask

    ok("score", image_run, "--data", images_npy, "--score", "recon", "--out", tmp_path / "s.parquet", "--no-threshold", "-q")
    assert (tmp_path / "s.parquet").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    (tmp_path / "afile").write_text("x")
    refused = invoke("score", image_run, "--data", images_npy, "--out", tmp_path / "afile" / "s.csv", "--no-threshold", "-q")
    assert refused.exit_code == 2 and "is a file, not a folder" in refused.output
    assert "Traceback" not in refused.output


def test_plot_anomalies_refuses_zero_examples(image_run, tmp_path):
    refused = invoke("plot", image_run, "anomalies", "-n", "0", "--out", tmp_path / "a.png")
    assert refused.exit_code == 2 and not (tmp_path / "a.png").exists()


def test_a_category_never_seen_in_training_scores_inf_and_ranks_first(tmp_path):
    from vaekit.evaluation.anomaly_metrics import anomaly_metrics

    frame = animals(120, seed=0)
    model = vaekit.TableVAE(epochs=2, encoder=[8], latent_dim=2).fit(frame)
    rows = animals(10, seed=1)
    rows["species"] = rows["species"].astype(object)
    rows.loc[3, "species"] = "Emperor"
    with pytest.warns(vaekit.runtime.errors.VaekitWarning, match="row 4 .species 'Emperor', never seen in training."):
        scored = model.vae_.explain(rows, kind="elbo", k=2)
    assert np.isposinf(scored.scores[3]) and np.isfinite(np.delete(scored.scores, 3)).all()
    names = scored.features
    assert np.isposinf(scored.contributions[3, names.index("species")])
    assert np.isfinite(np.delete(scored.contributions[3], names.index("species"))).all()
    labels = np.zeros(10, dtype=int)
    labels[3] = 1
    assert anomaly_metrics(scored.scores, labels)["precision_at_n"] == 1.0
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = ok("score", model.vae_.run_dir, "--data", tmp_path / "rows.csv", "--score", "elbo", "--k", 2,
                "--out", tmp_path / "s.csv", "-q")  # fmt: skip
    assert "1 example(s) scored inf (probability 0 under the model): row 4 (species 'Emperor', never seen" in result.output
    assert np.isposinf(pd.read_csv(tmp_path / "s.csv")["score"][3])
    refused = invoke("score", model.vae_.run_dir, "--data", tmp_path / "rows.csv", "--calibrate", "--fpr", "0.1", "-q")
    assert refused.exit_code == 2 and "not finite" in refused.output


# --- a row's score is the row's own ---------------------------------------------------------------


def test_a_table_rows_score_is_the_same_alone_reversed_in_other_chunks_and_among_other_rows(
    table_run, table_files, tmp_path
):
    train_csv, score_csv = table_files
    rows = pd.read_csv(score_csv).drop(columns=["is_anomaly"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    named = ["--id-column", "name"]
    ok("score", table_run, "--data", tmp_path / "rows.csv", *named, "--out", tmp_path / "all.csv", "-q")
    rows.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    rows.iloc[[17]].to_csv(tmp_path / "one.csv", index=False)
    pd.concat([rows.iloc[40:], pd.read_csv(train_csv).assign(name="train"), rows.iloc[:40]]).to_csv(
        tmp_path / "mixed.csv", index=False
    )
    whole = pd.read_csv(tmp_path / "all.csv").set_index("name")["score"]
    for data, options in (("reversed.csv", []), ("one.csv", []), ("mixed.csv", []), ("all-7.csv", ["--chunk-rows", 7])):
        source = tmp_path / ("rows.csv" if data == "all-7.csv" else data)
        ok("score", table_run, "--data", source, *named, *options, "--out", tmp_path / f"s-{data}", "-q")
        got = pd.read_csv(tmp_path / f"s-{data}")
        got = got[got["name"] != "train"].set_index("name")["score"]
        # Before, each row took the draws of its position in the file: 0.01 to 1 nats apart.
        np.testing.assert_allclose(got.to_numpy(), whole[got.index].to_numpy(), rtol=0, atol=1e-5, err_msg=data)


def test_an_images_score_is_the_same_alone_and_reversed_through_the_runs_binarisation(tmp_path, digits_x):
    run = tmp_path / "binary"
    vaekit.train(data="digits", binarize="dynamic", encoder=[16], latent_dim=2, epochs=1, out=run, progress="quiet")
    x = digits_x[:30]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "reversed.npy", x[::-1].copy())
    np.save(tmp_path / "one.npy", x[12:13])
    vae = vaekit.load(run)
    # Each image's binarisation and draws are seeded by its grey levels, not by its position.
    whole = vae.score(tmp_path / "x.npy", "nll", k=20)
    np.testing.assert_allclose(vae.score(tmp_path / "reversed.npy", "nll", k=20)[::-1], whole, rtol=0, atol=1e-5)
    np.testing.assert_allclose(vae.score(tmp_path / "one.npy", "nll", k=20), whole[12:13], rtol=0, atol=1e-5)


# --- infinite scores, named -------------------------------------------------------------------------


def test_rows_scored_inf_are_named_with_the_column_and_value_and_the_mean_is_of_the_finite(table_run, table_files, tmp_path):
    _, score_csv = table_files
    rows = pd.read_csv(score_csv)
    rows.loc[[4, 9, 11, 20, 30, 33, 50], "species"] = "Emperor"
    rows.loc[9, "sex"] = "unknown"
    rows.drop(columns=["name", "is_anomaly"]).to_csv(tmp_path / "rows.csv", index=False)
    rows.drop(columns=["is_anomaly"]).to_csv(tmp_path / "named.csv", index=False)
    result = ok("score", table_run, "--data", tmp_path / "rows.csv", "--out", tmp_path / "s.csv", "-q")
    assert (
        "7 example(s) scored inf (probability 0 under the model): row 5 (species 'Emperor', never seen in training), "
        "row 10 (species 'Emperor', sex 'unknown', never seen in training), row 12 (species 'Emperor', never seen "
        "in training), row 21 (species 'Emperor', never seen in training), row 31 (species 'Emperor', never seen "
        "in training) and 2 more"
    ) in result.output
    finite = pd.read_csv(tmp_path / "s.csv")["score"]
    finite = finite[np.isfinite(finite)]
    assert f"mean {finite.mean():.3f} (mean of the 53 finite; 7 inf)" in result.output and "mean inf" not in result.output
    result = ok("score", table_run, "--data", tmp_path / "named.csv", "--id-column", "name", "--out", tmp_path / "s.csv",
                "-q", "--json", "--chunk-rows", 10)  # fmt: skip
    record = json.loads(result.output)
    assert record["mean"] == pytest.approx(finite.mean()) and record["infinite_scores"] == 7
    assert record["infinite_examples"].startswith("name 'animal-004' (species 'Emperor', never seen in training), ")
    refused = invoke("score", table_run, "--data", tmp_path / "named.csv", "--id-column", "name", "--calibrate", "--fpr", 0.1)
    assert refused.exit_code == 2
    assert ("7 reference score(s) are not finite: name 'animal-004' (species 'Emperor', never seen in training), "
            "name 'animal-009' (species 'Emperor', sex 'unknown'") in refused.stderr  # fmt: skip
    with pytest.warns(vaekit.runtime.errors.VaekitWarning, match=r"row 5 \(species 'Emperor', never seen in training\)"):
        vaekit.load(table_run).score(rows.drop(columns=["name", "is_anomaly"]), "recon")


def test_a_value_beyond_float32_is_refused_whatever_the_columns_transform(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"shop": rng.choice(["a", "b"], 300), "amount": np.round(rng.lognormal(3, 1.5, 300), 2),
                          "visits": rng.negative_binomial(2, 0.1, 300)})  # fmt: skip
    run = tmp_path / "amounts"
    vaekit.train(data=frame, encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    columns = {c["name"]: c["transform"] for c in json.loads((run / "config.json").read_text())["table"]["columns"]}
    assert columns["amount"]["rest"]["log"] and columns["visits"]["type"] == "count"
    rows = frame.head(4).astype({"visits": float})
    rows.loc[1, "amount"], rows.loc[2, "amount"] = 1e300, 1e40  # a log transform brings them within range
    rows.to_csv(tmp_path / "huge.csv", index=False)
    result = invoke("score", run, "--data", tmp_path / "huge.csv", "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and not (tmp_path / "s.csv").exists()
    assert ("column 'amount' has cells too large to encode (beyond float32's range, about 3.4e38): 1e+300 (row 2), "
            "1e+40 (row 3); fix those cells or leave them empty") in result.stderr  # fmt: skip
    result = invoke("score", run, "--data", tmp_path / "huge.csv", "--chunk-rows", 2, "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "1e+300 (row 2)" in result.stderr
    rows.loc[1, "amount"], rows.loc[2, "amount"] = -1000.0, 3.0  # below what the log transform encodes
    rows.loc[3, "visits"] = 2.5
    for column, said in (
        ("amount", "train with --continuous standard (continuous='standard' in Python): -1000.0 (row 2)"),
        ("visits", "is a count but has values that are not whole numbers >= 0: 2.5 (row 4)"),
    ):
        bad = frame.head(4).astype({"visits": float})
        bad[column] = rows[column]
        bad.to_csv(tmp_path / "bad.csv", index=False)
        result = invoke("score", run, "--data", tmp_path / "bad.csv", "--out", tmp_path / "s.csv")
        assert result.exit_code == 2 and said in result.stderr and "np.float64" not in result.stderr


PAUSE_BETWEEN_RENAMES = """
import os, sys, time
from pathlib import Path
from vaekit.cli import main

signals, args = Path(sys.argv[1]), sys.argv[2:]
real = os.replace

def replace(src, dst):
    real(src, dst)
    if Path(dst).suffix == ".csv":  # the scores are in place, the maps not yet: let the other one run
        (signals / "paused").touch()
        time.sleep(3)

os.replace = replace
main(args, prog_name="vaekit")
"""


def test_two_explain_scorings_finishing_together_leave_the_scores_and_maps_of_one(image_run, images_npy, tmp_path):
    other = tmp_path / "other.npy"
    np.save(other, 1 - np.load(images_npy))
    out = tmp_path / "both" / "s.csv"
    args = ["score", str(image_run), "--score", "elbo", "--k", "2", "--explain", "--out", str(out), "-q"]
    first = subprocess.Popen([sys.executable, "-c", PAUSE_BETWEEN_RENAMES, str(tmp_path), *args, "--data", str(images_npy)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "paused").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first scoring did not get to its renames"
            time.sleep(0.05)
        # The second scoring ends while the first is between its two renames.
        second = subprocess.run([sys.executable, "-m", "vaekit.cli", *args, "--data", str(other)],
                                capture_output=True, text=True)  # fmt: skip
        assert second.returncode == 0, second.stderr
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    frame, maps = pd.read_csv(out), np.load(out.with_name("s-maps.npy"))
    # The maps add up to the scores beside them only when both files are of one scoring.
    total = maps.reshape(len(maps), -1).sum(1) + frame["contribution_latent"].to_numpy()
    np.testing.assert_allclose(total, frame["score"], rtol=0, atol=1e-3)
    assert leftovers(out.parent) == []


def test_npy_scores_are_written_through_a_temporary_the_cleanup_knows(image_run, images_npy, tmp_path, monkeypatch):
    from vaekit.runtime import atomic

    seen = []
    real = np.save

    def save_and_look(*args, **kwargs):
        real(*args, **kwargs)
        seen.append(sorted(p.name for p in tmp_path.iterdir()))  # what a kill now would leave

    monkeypatch.setattr(np, "save", save_and_look)
    ok("score", image_run, "--data", images_npy, "--score", "recon", "--out", tmp_path / "s.npy", "-q")
    # Only the temporary named by its writer, which a later write of s.npy clears once its writer has ended.
    assert len(seen) == 1 and len(seen[0]) == 1 and atomic.is_temporary_of(seen[0][0], ["s.npy"]), seen
    assert np.load(tmp_path / "s.npy").shape == (360,)
    assert leftovers(tmp_path) == []
