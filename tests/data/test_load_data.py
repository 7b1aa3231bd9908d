"""load_data: dispatch by name, suffix and folder; shared option checks; light imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vaekit.data
from vaekit.data import available_datasets, load_data
from vaekit.data.registry import DATASETS
from vaekit.runtime.errors import DataError

from .helpers import write_idx_folder, write_image


def test_public_api() -> None:
    assert set(vaekit.data.__all__) == {
        "DataBundle",
        "load_data",
        "available_datasets",
        "synthetic5",
        "to_model_units",
    }


def test_available_datasets() -> None:
    assert available_datasets() == ["digits", "fashion-mnist", "mnist", "synthetic5"]
    assert available_datasets() == sorted(DATASETS)


@pytest.mark.parametrize("spec", ["synthetic5", "Synthetic5", " SYNTHETIC5 "])
def test_names_dispatch_to_readers(spec: str) -> None:
    assert load_data(spec, n=20).name == "synthetic5"


def test_loose_name_does_not_shadow_an_existing_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "Digits.npy", np.ones((3, 2)))
    (tmp_path / "Digits.npy").rename(tmp_path / "Digits")
    with pytest.raises(DataError, match="unsupported file type ''"):
        load_data("Digits")


def test_digits_by_name() -> None:
    bundle = load_data("digits", seed=7)
    assert bundle.name == "digits" and bundle.train.shape[0] + bundle.test.shape[0] == 1797


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv", ".CSV"])
def test_files_dispatch_by_suffix(tmp_path: Path, suffix: str) -> None:
    x = np.arange(30, dtype=np.float64).reshape(10, 3)
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, x)
    elif suffix == ".npz":
        np.savez(path, x=x)
    else:
        sep = "\t" if suffix == ".tsv" else ","
        path.write_text("\n".join(sep.join(str(v) for v in row) for row in x))
    bundle = load_data(str(path), test_fraction=0.3, table_mode="matrix")
    assert bundle.name == str(path)
    assert bundle.shape == (3,) and bundle.train.shape == (7, 3) and bundle.test.shape == (3, 3)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_tables_are_read_with_a_schema_by_default(tmp_path: Path, suffix: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"kind": ["a", "b", None, "c"] * 5, "size": np.arange(20) * 1.5})
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    bundle = load_data(str(path), test_fraction=0.25)
    assert bundle.kind == "table" and bundle.value_range == "table"
    assert [c["kind"] for c in bundle.table["schema"]["columns"]] == ["categorical", "continuous"]
    assert bundle.train.shape[0] == 15 and bundle.frames[1].shape == (5, 2)
    # A missing category is masked, not filled: its block's mask slot is 0 in exactly those rows.
    block = next(b for b in bundle.table["blocks"] if b["column"] == "kind")
    missing = torch.from_numpy(bundle.frames[0]["kind"].isna().to_numpy().copy())
    assert torch.equal(bundle.train[:, block["mask"]] == 0, missing)
    assert (bundle.train[missing, block["slot"] : block["slot"] + block["size"]] == 0).all()
    from_frame = load_data(frame, test_fraction=0.25)
    assert torch.equal(from_frame.train, bundle.train)


@pytest.mark.parametrize("suffix", [".npy", ".csv", "-table.csv", "-images"])
def test_without_a_hold_out_a_file_is_read_whole_in_its_order(tmp_path: Path, suffix: str) -> None:
    x = np.arange(36, dtype=np.float64).reshape(9, 4) / 36
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, x)
    elif suffix == "-images":
        for i in range(9):
            write_image(path / f"{i}.png", size=(2, 2), seed=i)
    else:
        pd = pytest.importorskip("pandas")
        pd.DataFrame(x, columns=list("abcd")).to_csv(path, index=False, header=suffix == "-table.csv")
    mode = "schema" if suffix == "-table.csv" else "matrix"
    held = load_data(path, table_mode=mode)
    whole = load_data(path, hold_out=False, table_mode=mode, codec=held.table)  # a table: the same codec
    assert whole.train.shape[0] == 9 and whole.test.shape[0] == 0
    assert [len(rows) for rows in whole.file_rows] == [9, 0]
    # the held-out split is the same rows, placed back where the file has them
    order = np.argsort(np.concatenate(held.file_rows))
    assert torch.equal(torch.cat([held.train, held.test])[torch.from_numpy(order)], whole.train)
    if suffix == ".npy":
        np.save(path, x[:1])  # one row: nothing to hold out, and no test set asked for
        assert load_data(path, hold_out=False).train.shape == (1, 4)


def test_a_compressed_text_table_is_read_in_memory_as_on_disk(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"kind": ["a", "b", "c"] * 6, "size": np.arange(18) * 0.5})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.csv.gz", index=False)
    plain, packed = load_data(tmp_path / "t.csv"), load_data(tmp_path / "t.csv.gz")
    assert packed.kind == "table" and torch.equal(plain.train, packed.train) and torch.equal(plain.test, packed.test)
    np.savetxt(tmp_path / "m.csv.gz", np.ones((4, 2)), delimiter=",")
    with pytest.raises(DataError, match="--table-mode matrix reads plain .csv/.tsv files; decompress it first"):
        load_data(tmp_path / "m.csv.gz", table_mode="matrix")
    (tmp_path / "x.npy.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"unsupported file type '.gz'.*\(.csv and .tsv may be compressed"):
        load_data(tmp_path / "x.npy.gz")


def test_folder_of_idx_files_is_mnist_format(tmp_path: Path) -> None:
    write_idx_folder(tmp_path / "idx", gz=True, n_train=5, n_test=2)
    bundle = load_data(str(tmp_path / "idx"))
    assert bundle.name == str(tmp_path / "idx") and bundle.levels == 256
    assert bundle.train.shape == (5, 6) and bundle.test.shape == (2, 6)


def test_path_objects_are_accepted(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((4, 2)))
    assert load_data(tmp_path / "x.npy").name == str(tmp_path / "x.npy")


def test_folder_of_images(tmp_path: Path) -> None:
    for i in range(5):
        write_image(tmp_path / "img" / f"{i}.png", size=(3, 3), seed=i)
    bundle = load_data(str(tmp_path / "img"), image_size="2x2")
    assert bundle.shape == (1, 2, 2) and bundle.train.shape == (4, 4)


def test_unknown_spec_lists_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="neither a dataset name .*digits.*mnist"):
        load_data(str(tmp_path / "nope"))


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        load_data(str(path))


@pytest.mark.parametrize("bad", [0.0, 1.0, -1.0, 2.0])
def test_test_fraction_checked_for_every_dataset(bad: float) -> None:
    # mnist would otherwise fail later with "not found": the check comes first.
    with pytest.raises(DataError, match="test_fraction"):
        load_data("mnist", test_fraction=bad)


def test_n_generates_synthetic_rows() -> None:
    bundle = load_data("synthetic5", n=100, test_fraction=0.25)
    assert bundle.train.shape == (75, 5) and bundle.test.shape == (25, 5)


def test_n_caps_the_training_set_of_real_data() -> None:
    full = load_data("digits")
    capped = load_data("digits", n=100)
    assert capped.train.shape == (100, 64) and capped.train_labels.shape == (100,)
    assert capped.test.shape == full.test.shape
    assert (capped.train == full.train[:100]).all()


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_n(bad) -> None:
    with pytest.raises(DataError, match="n must be a positive"):
        load_data("synthetic5", n=bad)


def test_image_size_only_for_image_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="image-size"):
        load_data("digits", image_size="28")
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 2)))
    with pytest.raises(DataError, match="image-size"):
        load_data(str(path), image_size="28")
    write_idx_folder(tmp_path / "idx")
    with pytest.raises(DataError, match="image-size"):
        load_data(str(tmp_path / "idx"), image_size="28")


def test_import_is_light() -> None:
    code = (
        "import sys, numpy, torch\n"
        "before = set(sys.modules)\n"
        "import vaekit.data\n"
        "heavy = {'sklearn', 'PIL', 'gzip', 'urllib'}\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & heavy))\n"
    )
    src = str(Path(vaekit.data.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_a_folder_named_like_a_dataset_is_warned_of_once_as_it_goes_unread(tmp_path, monkeypatch):
    import warnings

    import vaekit
    from vaekit.runtime.errors import VaekitWarning

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    with pytest.warns(VaekitWarning, match=r"'digits' names the dataset 'digits'.*the folder 'digits' here is not: write ./digits"):
        assert vaekit.build_config(data="digits").data.name == "digits"
    (tmp_path / "mnist").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vaekit.build_config(data="digits")  # warned of once already
        vaekit.build_config(data="mnist", data_dir="mnist")  # the folder is the dataset's own
        vaekit.build_config(data="synthetic5")  # no such folder here
