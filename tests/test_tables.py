"""Tables end to end: train on a mixed-type CSV with missing cells, then sample (exact and
rejection-sampled conditions), impute, score and encode, through the API, the estimator and
the command line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import vaekit
from vaekit import tables
from vaekit.cli import main
from vaekit.runtime.errors import ConfigError, DataError, RunFolderError


def small_table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """A penguin-like table: text categories, a binary column with gaps, a skewed amount with
    many zeros, a count and a measure that depends on the species."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], size=n, p=[0.5, 0.3, 0.2])
    sex = rng.choice(["female", "male"], size=n).astype(object)
    sex[rng.random(n) < 0.08] = None
    length = np.where(species == "Gentoo", 47.0, 39.0) + rng.normal(0, 2.0, n)
    length[rng.random(n) < 0.05] = np.nan
    amount = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.lognormal(3, 1, n), 2))
    visits = rng.negative_binomial(2, 0.1, n)
    return pd.DataFrame(
        {"species": species, "sex": sex, "bill_length": length, "amount": amount, "visits": visits}
    )


@pytest.fixture(scope="session")
def table_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "animals.csv"
    small_table().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def table_run(tmp_path_factory, table_csv) -> Path:
    """A table run conditioned on species, trained briefly from a CSV file."""
    out = tmp_path_factory.mktemp("runs") / "table"
    vaekit.train(
        data=str(table_csv),
        condition_on=["species"],
        encoder=[32],
        latent_dim=3,
        epochs=20,
        batch_size=32,
        out=out,
        progress="quiet",
    )
    return out


def test_a_table_run_records_its_schema_and_trains_a_conditional_vae_with_the_mixed_likelihood(table_run):
    vae = vaekit.load(table_run)
    assert vae.config.model.name == "cvae"
    assert vae.model.likelihood.name == "mixed"
    schema = json.loads((table_run / "schema.json").read_text())
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert kinds == {
        "species": "categorical",
        "sex": "binary",
        "bill_length": "continuous",
        "amount": "continuous",
        "visits": "count",
    }
    assert vae.config.value_range == "table"


def test_synthetic_rows_keep_the_schema_and_stay_in_the_observed_range(table_run, table_csv):
    vae = vaekit.load(table_run)
    real = pd.read_csv(table_csv)
    synth = tables.sample_table(vae, 500, seed=1, missing=False).frame
    assert list(synth.columns) == list(real.columns)
    assert not synth.isna().any().any()
    assert set(synth["species"]) <= set(real["species"])
    assert set(synth["sex"]) <= {"female", "male"}
    assert synth["visits"].dtype.kind == "i" and (synth["visits"] >= 0).all()
    assert synth["amount"].between(real["amount"].min(), real["amount"].max()).all()
    # The point mass at zero survives: about 40 % of the real amounts are exactly 0.
    assert 0.15 < (synth["amount"] == 0).mean() < 0.65


def test_synthetic_rows_go_missing_only_where_training_rows_did(table_run, table_csv):
    vae = vaekit.load(table_run)
    real = pd.read_csv(table_csv)
    synth = tables.sample_table(vae, 2000, seed=1).frame
    gaps = synth.isna().mean()
    assert gaps["species"] == gaps["amount"] == gaps["visits"] == 0
    for column in ("sex", "bill_length"):  # 8 % and 5 % of the training cells are missing
        assert 0 < gaps[column] < 3 * real[column].isna().mean() + 0.05


def test_sampling_is_seeded(table_run):
    vae = vaekit.load(table_run)
    a = tables.sample_table(vae, 50, seed=3).frame
    b = tables.sample_table(vae, 50, seed=3).frame
    pd.testing.assert_frame_equal(a, b)


def test_where_on_a_condition_column_is_exact(table_run):
    vae = vaekit.load(table_run)
    result = tables.sample_table(vae, 200, where="species=Gentoo", seed=0)
    assert (result.frame["species"] == "Gentoo").all()
    assert result.acceptance is None
    # The condition shapes the other columns: Gentoo bills are longer in the training data.
    adelie = tables.sample_table(vae, 200, where={"species": "Adelie"}, seed=0).frame
    assert result.frame["bill_length"].mean() > adelie["bill_length"].mean()


def test_where_on_another_column_is_rejection_sampled_with_its_acceptance_reported(table_run):
    vae = vaekit.load(table_run)
    result = tables.sample_table(vae, 100, where="sex=female", seed=0)
    assert (result.frame["sex"] == "female").all() and len(result.frame) == 100
    assert 0.05 < result.acceptance < 0.95


def test_a_rare_rejection_condition_is_refused_with_the_fix(table_run):
    vae = vaekit.load(table_run)
    with pytest.raises(DataError, match="lower --min-acceptance") as refused:
        tables.sample_table(vae, 10, where="visits=400", seed=0)
    assert "--condition-on" not in str(refused.value)  # a count cannot be a condition column


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("species=Emperor", "no value 'Emperor'"),
        ("sex=unknown", "no value 'unknown'"),
        ("colour=red", "does not have"),
        ("bill_length=40", "continuous"),
        ("species", "COLUMN=VALUE"),
    ],
)
def test_bad_where_is_refused_naming_the_column(table_run, where, message):
    vae = vaekit.load(table_run)
    with pytest.raises(DataError, match=message):
        tables.sample_table(vae, 10, where=where)


def test_imputation_fills_missing_cells_and_leaves_observed_ones(table_run):
    vae = vaekit.load(table_run)
    frame = small_table(40, seed=5)
    frame.loc[[1, 4], "bill_length"] = np.nan
    frame.loc[[2], "visits"] = None
    completed = tables.impute_table(vae, frame, draws=3, seed=0)
    assert len(completed) == 3
    observed = frame.notna()
    for done in completed:
        assert not done[["sex", "bill_length", "amount", "visits"]].isna().any().any()
        for column in frame.columns:
            kept = observed[column].to_numpy()
            # A whole-number column read as float because of its gaps comes back whole.
            pd.testing.assert_series_equal(done[column][kept], frame[column][kept], check_dtype=False)
    # Multiple imputation: the draws differ where cells were missing.
    assert completed[0].loc[1, "bill_length"] != completed[1].loc[1, "bill_length"]


def test_scores_are_per_row_log_likelihoods_in_data_units(table_run):
    vae = vaekit.load(table_run)
    frame = small_table(30, seed=7)
    scores = tables.score_table(vae, frame, k=20)
    assert scores.shape == (30,) and np.isfinite(scores).all()
    # Measuring a column in other units changes the density by the change of variables only.
    odd = frame.copy()
    odd.loc[0, "bill_length"] = 500.0
    assert tables.score_table(vae, odd, k=20)[0] < scores[0] - 5


def test_the_estimator_takes_and_returns_data_frames(tmp_path):
    frame = small_table(120, seed=2)
    model = vaekit.TableVAE(epochs=5, batch_size=32, encoder=[16], latent_dim=2, progress="quiet")
    latents = model.fit_transform(frame)
    assert list(latents.columns) == ["z1", "z2"] and len(latents) == len(frame)
    synth = model.sample(30)
    assert list(synth.columns) == list(frame.columns)
    assert model.score_samples(frame.head(10), k=5).shape == (10,)
    unseen = frame.head(3).copy()
    unseen.loc[unseen.index[0], "species"] = "Emperor"
    scored = model.score_samples(unseen, k=5)
    assert scored[0] == -np.inf and np.isfinite(scored[1:]).all()  # as `vaekit score` gives it inf
    assert {c["name"] for c in model.schema_["columns"]} == set(frame.columns)
    with pytest.raises(DataError, match="pass it again"):
        vaekit.resume(model.vae.run_dir, epochs=6, progress="quiet")
    again = vaekit.resume(model.vae.run_dir, epochs=6, progress="quiet", data=frame)
    assert again.config.train.epochs == 6


def test_the_estimator_clones_as_scikit_learn_does():
    from sklearn.base import clone

    model = vaekit.TableVAE(latent_dim=3, encoder=(16, 8), epochs=7, prior="vamp", checkpoint_every=2)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin.get_params()["encoder"] == (16, 8)
    assert twin.options["encoder"] == [16, 8] and twin.options["checkpoint_every"] == 2
    assert vaekit.TableVAE(epochs=30).options["checkpoint_every"] == 3
    assert twin.set_params(epochs=9, kl_warmup=None) is twin and twin.epochs == 9 and "kl_warmup" in twin.train_options
    assert model.epochs == 7


def test_an_estimator_refits_into_its_own_folder_and_keeps_a_foreign_one(tmp_path):
    frame = small_table(60, seed=3)
    options = {"epochs": 1, "batch_size": 32, "encoder": [8], "latent_dim": 2, "progress": "quiet"}
    vaekit.TableVAE(out=tmp_path / "run", **options).fit(frame)
    vaekit.TableVAE(out=tmp_path / "run", **options).fit(frame)  # a notebook cell run twice
    refit = vaekit.TableVAE(out=tmp_path / "run", force=True, **options).fit(frame)
    assert refit.vae.config.train.epochs == 1
    with pytest.raises(RunFolderError, match="not empty"):
        vaekit.TableVAE(out=tmp_path / "run", force=False, **options).fit(frame)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(RunFolderError, match="not empty"):
        vaekit.TableVAE(out=tmp_path / "mine", **options).fit(frame)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_more_rows_than_memory_holds_are_refused_before_any_work(table_run, table_csv):
    vae = vaekit.load(table_run)
    with pytest.raises(DataError, match=r"10,000,000,000,000 synthetic rows needs about .* ask for fewer rows"):
        tables.sample_table(vae, 10**13)
    with pytest.raises(DataError, match=r"imputations of .* rows needs about .* ask for fewer --draws"):
        tables.impute_table(vae, str(table_csv), draws=10**12)


def test_an_unfitted_estimator_says_so():
    with pytest.raises(ConfigError, match="not fitted"):
        vaekit.TableVAE().sample(3)
    with pytest.raises(DataError, match=r"TableVAE fits a table: .*got ndarray; wrap an array in pandas.DataFrame"):
        vaekit.TableVAE().fit(np.zeros((10, 3)))


def test_image_runs_refuse_table_commands(digits_run):
    vae = vaekit.load(digits_run)
    with pytest.raises(ConfigError, match="not on a table"):
        tables.sample_table(vae, 3)


def test_cli_sample_impute_and_info(table_run, table_csv, tmp_path):
    runner = CliRunner()
    out = tmp_path / "synth.parquet"
    result = runner.invoke(main, ["sample", str(table_run), "-n", "50", "--out", str(out), "--where", "species=Gentoo,sex=male"])
    assert result.exit_code == 0, result.output
    assert "rejection sampling" in result.output
    synth = pd.read_parquet(out)
    assert len(synth) == 50 and (synth["species"] == "Gentoo").all() and (synth["sex"] == "male").all()

    completed = tmp_path / "done.csv"
    result = runner.invoke(main, ["impute", str(table_run), "--data", str(table_csv), "--out", str(completed), "--draws", "2"])
    assert result.exit_code == 0, result.output
    done = pd.read_csv(completed)
    assert list(done.columns) == ["imputation", *pd.read_csv(table_csv).columns]
    assert len(done) == 2 * len(pd.read_csv(table_csv))
    assert f"wrote {len(done)} rows" in result.output and "2 times" in result.output
    assert not done.isna().any().any()

    latents, recon, decoded = tmp_path / "z.csv", tmp_path / "recon.csv", tmp_path / "decoded.tsv"
    assert runner.invoke(main, ["encode", str(table_run), "--out", str(latents)]).exit_code == 0
    # a file given with --data is encoded whole, one code per row in its order
    rows = pd.read_csv(table_csv)
    vae = vaekit.load(table_run)  # the API takes the rows as a DataFrame (labels from its condition column)
    assert np.allclose(vae.encode(rows).numpy(), tables.latent_means(vae, rows).to_numpy(), atol=1e-6)
    rows.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    codes = []
    for name, source in (("forward", table_csv), ("reversed", tmp_path / "reversed.csv")):
        result = runner.invoke(main, ["encode", str(table_run), "--data", str(source), "--out", str(tmp_path / f"{name}.npy")])
        assert result.exit_code == 0, result.output
        codes.append(np.load(tmp_path / f"{name}.npy"))
    assert len(codes[0]) == len(rows) and np.allclose(codes[0], codes[1][::-1], atol=1e-5)
    result = runner.invoke(main, ["reconstruct", str(table_run), "-n", "5", "--out", str(recon)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(recon).columns) == list(pd.read_csv(table_csv).columns)
    result = runner.invoke(main, ["decode", str(table_run), "--latents", str(latents), "--out", str(decoded), "--label", "0"])
    assert result.exit_code == 0, result.output
    assert (pd.read_csv(decoded, sep="\t")["species"] == "Adelie").all()  # joint label 0: the first species

    result = runner.invoke(main, ["info", str(table_run)])
    assert result.exit_code == 0, result.output
    assert "amount" in result.output and "count" in result.output
    assert "torch's layer defaults, decoder output bias from the data's marginals" in result.output  # a table's start


def test_cli_writes_a_table_to_standard_output_with_out_dash(table_run, table_csv, digits_run):
    """``--out -`` pipes the CSV; what the command says goes to standard error, so the pipe holds
    the table alone."""
    before = sorted(p.name for p in table_run.iterdir())
    sampled = subprocess.run([sys.executable, "-m", "vaekit", "sample", str(table_run), "-n", "20", "--out", "-",
                              "--where", "species=Gentoo"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr
    synth = pd.read_csv(io.StringIO(sampled.stdout))
    assert list(synth.columns) == list(pd.read_csv(table_csv).columns)
    assert len(synth) == 20 and (synth["species"] == "Gentoo").all()
    assert "wrote 20 synthetic rows to standard output" in sampled.stderr
    assert sorted(p.name for p in table_run.iterdir()) == before  # no samples.csv beside the run

    imputed = subprocess.run([sys.executable, "-m", "vaekit", "impute", str(table_run), "--data", str(table_csv),
                              "--out", "-"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert imputed.returncode == 0, imputed.stderr
    done = pd.read_csv(io.StringIO(imputed.stdout))
    assert len(done) == len(pd.read_csv(table_csv)) and not done.isna().any().any()
    assert "to standard output" in imputed.stderr

    refused = CliRunner().invoke(main, ["sample", str(digits_run), "--out", "-"])
    assert refused.exit_code == 2 and "--out - writes a table run's rows to standard output" in refused.output


def test_cli_refuses_table_mistakes_without_writing(table_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "synth.csv"
    for args, message in [
        (["sample", str(table_run), "--out", str(out), "--where", "species=Emperor"], "Emperor"),
        (["sample", str(table_run), "--out", str(tmp_path / "synth.png")], ".parquet"),
        (["sample", str(table_run), "--out", str(out), "--label", "1"], "--where"),
    ]:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_evaluate_reports_quality_and_writes_the_report_and_pictures(table_run):
    result = CliRunner().invoke(main, ["evaluate", str(table_run), "--k", "10"])
    assert result.exit_code == 0, result.output
    for words in ("quality score", "detection AUC", "ML efficacy", "closest training row", "held-out NLL"):
        assert words in result.output
    report = json.loads((table_run / "eval-table.json").read_text())
    assert 0 <= report["quality"]["score"] <= 1
    assert report["heldout_log_likelihood"]["k"] == 10 and report["heldout_log_likelihood"]["nll"] > 0
    for name in ("table-columns.png", "table-correlations.png"):
        assert (table_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = CliRunner().invoke(main, ["evaluate", str(table_run), "--target", "nothing"])
    assert refused.exit_code == 2 and "not a modelled column" in refused.output
    assert "Traceback" not in refused.output
    for flags, named in ((["--no-probe"], "--no-probe"), (["--batch-size", "7"], "--batch-size"), (["--fast", "off"], "--fast off")):
        refused = CliRunner().invoke(main, ["evaluate", str(table_run), *flags])
        assert refused.exit_code == 2 and f"{named} applies to image and array runs only; leave it out" in refused.output
    refused = CliRunner().invoke(main, ["evaluate", str(table_run), "--no-probe", "--batch-size", "7"])
    assert refused.exit_code == 2 and "--batch-size, --no-probe apply to image and array runs only; leave them out" in refused.output


def _write_bad_tables(folder: Path) -> None:
    (folder / "all-missing.csv").write_text("a,b\n1,\n2,\n3,\n")
    (folder / "one-row.csv").write_text("a,b\n1,x\n")
    (folder / "mixed.csv").write_text("a,b\n1,2\n3,x\n4,5\n6,7\n")
    (folder / "duplicate.csv").write_text("a,a,b\n1,2,3\n4,5,6\n")
    (folder / "empty.csv").write_text("")
    pd.DataFrame({"a": [1, 2, 3], "tags": [[1, 2], [3], []]}).to_parquet(folder / "nested.parquet")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("all-missing.csv", "'b'"),
        ("one-row.csv", "1 row"),
        ("mixed.csv", "--column-types b=categorical"),
        ("duplicate.csv", "'a'"),
        ("empty.csv", "empty"),
        ("nested.parquet", "'tags'"),
    ],
)
def test_bad_tables_stop_training_with_a_message_and_write_nothing(tmp_path, name, words):
    _write_bad_tables(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / name), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_a_category_first_seen_after_training_is_refused_naming_it(table_run, tmp_path):
    frame = small_table(10, seed=3)
    frame.loc[2, "species"] = "Emperor"
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "filled.csv"
    result = CliRunner().invoke(main, ["impute", str(table_run), "--data", str(path), "--out", str(out)])
    assert result.exit_code == 2 and "Emperor" in result.output and "species" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_rejection_conditions_match_values_as_exact_ones_do(table_run):
    vae = vaekit.load(table_run)
    result = tables.sample_table(vae, 20, where="sex=FEMALE", seed=0)
    assert (result.frame["sex"] == "female").all()


def test_evaluating_other_rows_checks_their_columns_and_keeps_the_runs_own_pictures(table_run, tmp_path):
    runner = CliRunner()
    frame = small_table(40, seed=9)
    partial = tmp_path / "partial.csv"
    frame.drop(columns=["visits"]).to_csv(partial, index=False)
    result = runner.invoke(main, ["evaluate", str(table_run), "--data", str(partial)])
    assert result.exit_code == 2 and "visits" in result.output and "Traceback" not in result.output
    other = tmp_path / "other.csv"
    frame.to_csv(other, index=False)
    result = runner.invoke(main, ["evaluate", str(table_run), "--data", str(other), "--k", "0"])
    assert result.exit_code == 0, result.output
    assert "held-out NLL" not in result.output and "exact copies of training rows" not in result.output
    assert (table_run / "eval-table-other.json").exists() and (table_run / "table-columns-other.png").exists()


def test_evaluating_the_training_file_warns_that_its_figures_are_not_held_out(table_run, table_csv):
    result = CliRunner().invoke(main, ["evaluate", str(table_run), "--data", str(table_csv), "--k", "0"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "exact copies of training rows" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ") and "are not held out" in warned[0]
    report = json.loads((table_run / "eval-table-other.json").read_text())
    assert report["warnings"] == [warned[0].removeprefix("warning: ")]


def test_impute_says_how_many_cells_and_rows_had_gaps(table_run, table_csv, tmp_path):
    rows = pd.read_csv(table_csv)
    cells, gapped = int(rows.isna().to_numpy().sum()), int(rows.isna().any(axis=1).sum())
    assert 0 < gapped < len(rows)
    result = CliRunner().invoke(main, ["impute", str(table_run), "--data", str(table_csv), "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(rows)} rows ({cells} missing cells filled, in {gapped} rows) to" in result.output
    rows.dropna().to_csv(tmp_path / "whole.csv", index=False)
    args = ["impute", str(table_run), "--data", str(tmp_path / "whole.csv"), "--out", str(tmp_path / "b.csv"), "--draws", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {2 * len(rows.dropna())} rows (no missing cells to fill, 2 times:" in result.output


def test_a_where_column_named_otherwise_is_refused_with_the_name_it_likely_is(table_run, tmp_path):
    result = CliRunner().invoke(main, ["sample", str(table_run), "--out", str(tmp_path / "s.csv"), "--where", "Sex=male"])
    assert result.exit_code == 2 and "--where names column 'Sex', which the table does not have (did you mean 'sex'?)" in result.output


def test_a_run_without_test_rows_trains_and_asks_for_rows_to_judge(table_csv, tmp_path):
    runner = CliRunner()
    out = tmp_path / "all-rows"
    args = ["train", "--data", str(table_csv), "--test-fraction", "0", "--epochs", "2", "--encoder", "8", "--out", str(out), "-q"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "no test rows" in result.output
    result = runner.invoke(main, ["evaluate", str(out), "--k", "0"])
    assert result.exit_code == 2 and "--data" in result.output


def test_an_estimator_fitted_on_a_data_frame_is_judged_with_the_rows_given():
    frame = small_table(120, seed=4)
    model = vaekit.TableVAE(epochs=3, batch_size=32, encoder=[16], latent_dim=2, progress="quiet").fit(frame)
    with pytest.raises(DataError, match="train=frame"):
        tables.evaluate_table(model.vae, k=0)
    result = tables.evaluate_table(model.vae, train=frame, data=small_table(40, seed=5), k=5)
    assert 0 <= result.report["quality"]["score"] <= 1 and result.report["heldout_log_likelihood"]["k"] == 5


def _walk_table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.integers(0, 50, n), "c": rng.choice(["x", "y", "z"], n),
        "d": rng.exponential(size=n), "flag": rng.random(n) < 0.5,
    })  # fmt: skip


@pytest.mark.parametrize(
    "suffix, loading, change",
    [("parquet", "disk", "values"), ("csv", "disk", "append"), ("csv", "memory", "append"), ("parquet", "memory", "append")],
)
def test_evaluate_refuses_a_changed_table_file_before_writing_its_report(tmp_path, monkeypatch, suffix, loading, change):
    monkeypatch.setenv("VAEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    frame = _walk_table()
    path = tmp_path / f"t.{suffix}"

    def write(rows: pd.DataFrame) -> None:
        if suffix == "csv":
            rows.to_csv(path, index=False)
        else:
            rows.to_parquet(path, row_group_size=50)

    write(frame)
    run = tmp_path / "run"
    vaekit.train(data=path.name, data_loading=loading, encoder=[8], latent_dim=2, epochs=1, batch_size=50, out=run,
                 progress="quiet")  # fmt: skip
    if change == "values":
        frame["a"] += 100
    else:
        frame = pd.concat([frame, frame.tail(1)], ignore_index=True)
    write(frame)
    result = CliRunner().invoke(main, ["evaluate", str(run), "--k", "5"])
    assert result.exit_code == 2, result.output
    assert f"t.{suffix} changed since this run started" in result.output and "put the original file back" in result.output
    assert not (run / tables.TABLE_REPORT_FILE).exists()
    with pytest.raises(DataError, match="changed since this run started"):
        tables.evaluate_table(vaekit.load(run), k=0)


def test_table_mode_matrix_on_disk_gets_its_own_refusal_worded_for_the_format(tmp_path):
    frame = _walk_table()[["a", "b", "d"]]
    frame.to_csv(tmp_path / "m.csv", index=False)
    frame.to_parquet(tmp_path / "m.parquet")
    for name, says in (("m.csv", "reads a whole CSV into memory"), ("m.parquet", "a Parquet file is read as a typed table")):
        result = CliRunner().invoke(main, [
            "train", "--data", str(tmp_path / name), "--data-loading", "disk", "--table-mode", "matrix", "--epochs", "1",
            "--out", str(tmp_path / "r"), "-q",
        ])  # fmt: skip
        assert result.exit_code == 2, result.output
        assert "--table-mode matrix" in result.output and says in result.output and "full shuffle" not in result.output
        assert name == "m.parquet" or "whole CSV" in result.output


def _codes_csv(path: Path, n: int = 60) -> Path:
    """A table of postcodes written with leading zeros, a label and a measure."""
    rng = np.random.default_rng(3)
    zips = ["01067", "01069", "80331", "10115"]
    rows = [f"{zips[i % 4] if i % 7 else ''},{'ab'[i % 2]},{rng.normal():.2f}" for i in range(n)]
    path.write_text("zip,plan,x\n" + "\n".join(rows) + "\n")
    return path


def test_codes_with_leading_zeros_round_trip_through_samples_imputation_decoding_and_scores(tmp_path):
    data = _codes_csv(tmp_path / "codes.csv")
    run = tmp_path / "run"
    vaekit.train(data=str(data), encoder=[8], latent_dim=2, epochs=2, batch_size=32, out=run, progress="quiet")
    vae = vaekit.load(run)
    column = tables.codec_of(vae).schema.column("zip")
    assert column.categories == ["01067", "01069", "10115", "80331"] and column.dtype == "str"
    assert set(tables.sample_table(vae, 50, missing=False).frame["zip"]) <= set(column.categories)
    filled = tables.impute_table(vae, data)[0]["zip"]
    assert filled.notna().all() and set(filled) <= set(column.categories) and filled.iloc[1] == "01069"
    assert tables.sample_table(vae, 3, where="zip=01067").frame["zip"].tolist() == ["01067"] * 3
    assert np.isfinite(tables.score_table(vae, data, k=2)).all()
    runner = CliRunner()
    np.save(tmp_path / "z.npy", np.zeros((4, 2), dtype=np.float32))
    result = runner.invoke(main, ["decode", str(run), "--latents", str(tmp_path / "z.npy"), "--out", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d.csv").read_text().splitlines()[1].startswith("0")  # 01067 or 01069, zero kept


def test_a_code_declared_categorical_is_kept_as_written(tmp_path):
    rows = "\n".join(f"{code},{i % 3}.5" for i, code in enumerate(["+7", "12", "30"] * 10))
    (tmp_path / "c.csv").write_text("code,x\n" + rows + "\n")
    run = tmp_path / "run"
    vaekit.train(data=str(tmp_path / "c.csv"), column_types={"code": "categorical"}, encoder=[8], latent_dim=2,
                 epochs=1, out=run, progress="quiet")  # fmt: skip
    assert tables.codec_of(vaekit.load(run)).schema.column("code").categories == ["+7", "12", "30"]


def test_a_run_whose_schema_read_codes_as_numbers_keeps_reading_them_so(tmp_path):
    # Such a run is one saved before codes kept their leading zeros: its codec holds 1067, not
    # "01067", and what it writes (imputed, decoded, sampled) keeps holding numbers.
    plain = tmp_path / "plain.csv"
    _codes_csv(plain)
    plain.write_text(plain.read_text().replace("\n0", "\n"))  # 1067: no leading zeros, numbers
    run = tmp_path / "run"
    vaekit.train(data=str(plain), encoder=[8], latent_dim=2, epochs=1, out=run, progress="quiet")
    vae = vaekit.load(run)
    assert tables.codec_of(vae).schema.column("zip").categories == [1067, 1069, 10115, 80331]
    filled = tables.impute_table(vae, _codes_csv(tmp_path / "zeros.csv"))[0]["zip"]
    assert pd.api.types.is_integer_dtype(filled.dtype) and set(filled) <= {1067, 1069, 10115, 80331}


def test_training_refuses_a_file_of_semicolons_and_warns_of_columns_it_leaves_out(tmp_path):
    (tmp_path / "semi.csv").write_text("a;b;c\n1;x;3\n2;y;4\n3;x;5\n4;y;2\n")
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data", str(tmp_path / "semi.csv"), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "reads as one column named 'a;b;c', which holds semicolons" in result.output
    assert not (tmp_path / "r").exists()
    rows = "\n".join(f"{i + 1},user{i},{(i * 7919) % 100_003},{i % 3}.5" for i in range(30))
    (tmp_path / "people.csv").write_text("id,name,tag,x\n" + rows + "\n")
    result = runner.invoke(main, ["train", "--data", str(tmp_path / "people.csv"), "--epochs", "1", "-q",
                                  "--encoder", "8", "--latent-dim", "2", "--out", str(tmp_path / "p")])  # fmt: skip
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "left out of the model by inference" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ")
    assert "id: whole numbers" in warned[0] and "name: text with every value different" in warned[0]
    assert "if it is an identifier, leave it out with --ignore tag" in warned[0]
