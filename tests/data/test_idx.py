"""MNIST-format IDX files: happy paths (raw and gzip) and every malformed-file check."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.data.idx import find_idx_files, parse_idx, read_idx_folder
from vaekit.runtime.errors import DataError

from .helpers import IMAGES_MAGIC, LABELS_MAGIC, STEMS, idx_bytes, write_bytes, write_idx_folder


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_reads_raw_and_gzip_folders(tmp_path: Path, gz: bool) -> None:
    arrays = write_idx_folder(tmp_path, gz=gz, n_train=6, n_test=4, rows=3, cols=2)
    bundle = read_idx_folder(tmp_path, "tiny")
    assert bundle.train.shape == (6, 6) and bundle.test.shape == (4, 6)
    assert bundle.train.dtype == bundle.test.dtype == torch.uint8
    assert bundle.shape == (1, 3, 2)
    assert (bundle.kind, bundle.value_range, bundle.levels) == ("image", "unit", 256)
    np.testing.assert_array_equal(bundle.train.numpy(), arrays["train-images"].reshape(6, 6))
    np.testing.assert_array_equal(bundle.test.numpy(), arrays["test-images"].reshape(4, 6))
    # What the reader returned before it kept uint8: a float32 copy divided by 255 in place.
    old = arrays["train-images"].reshape(6, 6).astype(np.float32)
    old /= 255
    assert torch.equal(bundle.as_float("train"), torch.from_numpy(old))
    bundle.train[0, 0] = 7  # the tensors share the file's bytes, which must be writable
    assert bundle.train_labels.dtype == torch.int64
    assert bundle.train_labels.tolist() == arrays["train-labels"].tolist()
    assert bundle.test_labels.tolist() == arrays["test-labels"].tolist()
    assert bundle.num_classes == 3


def test_raw_file_preferred_over_gz_and_dotted_names_accepted(tmp_path: Path) -> None:
    write_idx_folder(tmp_path, gz=True)
    for stem in STEMS.values():
        (tmp_path / f"{stem}.gz").rename(tmp_path / f"{stem.replace('-idx', '.idx')}.gz")
    raw = write_bytes(tmp_path / STEMS["train-images"], idx_bytes(np.zeros((6, 3, 2))))
    files = find_idx_files(tmp_path)
    assert files["train-images"] == raw
    assert files["test-labels"].name == "t10k-labels.idx1-ubyte.gz"
    assert read_idx_folder(tmp_path, "tiny").train.abs().sum() == 0


def truncated(raw: bytes) -> bytes:
    return raw[:-1]


def header_only_part(raw: bytes) -> bytes:
    return raw[:6]


def with_extra_byte(raw: bytes) -> bytes:
    return raw + b"\x00"


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (truncated, "truncated"),
        (header_only_part, "truncated"),
        (with_extra_byte, "longer than its header"),
    ],
)
@pytest.mark.parametrize("role", ["train-images", "test-labels"])
def test_size_mismatch_names_the_file(tmp_path: Path, role: str, damage, match: str) -> None:
    write_idx_folder(tmp_path)
    path = tmp_path / STEMS[role]
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=match) as info:
        read_idx_folder(tmp_path, "tiny")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("role", "wrong_magic"),
    [("train-images", LABELS_MAGIC), ("train-labels", IMAGES_MAGIC), ("test-images", 1234)],
)
def test_wrong_magic_names_the_file(tmp_path: Path, role: str, wrong_magic: int) -> None:
    write_idx_folder(tmp_path)
    path = tmp_path / STEMS[role]
    raw = path.read_bytes()
    path.write_bytes(wrong_magic.to_bytes(4, "big") + raw[4:])
    with pytest.raises(DataError, match="wrong IDX magic number") as info:
        read_idx_folder(tmp_path, "tiny")
    assert str(path) in str(info.value)


def test_parse_idx_rejects_a_file_too_short_for_a_magic_number() -> None:
    with pytest.raises(DataError, match="x.idx: truncated"):
        parse_idx(b"\x00\x00", "x.idx", IMAGES_MAGIC)


@pytest.mark.parametrize("split", ["train", "test"])
def test_image_and_label_counts_must_agree(tmp_path: Path, split: str) -> None:
    write_idx_folder(tmp_path)
    labels = tmp_path / STEMS[f"{split}-labels"]
    write_bytes(labels, idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DataError, match="images but .* has 3 labels"):
        read_idx_folder(tmp_path, "tiny")


def test_train_and_test_image_sizes_must_agree(tmp_path: Path) -> None:
    write_idx_folder(tmp_path)
    write_bytes(tmp_path / STEMS["test-images"], idx_bytes(np.zeros((4, 5, 5))))
    with pytest.raises(DataError, match="do not belong together"):
        read_idx_folder(tmp_path, "tiny")


def test_zero_images_is_empty_data(tmp_path: Path) -> None:
    write_idx_folder(tmp_path)
    write_bytes(tmp_path / STEMS["test-images"], idx_bytes(np.zeros((0, 3, 2))))
    write_bytes(tmp_path / STEMS["test-labels"], idx_bytes(np.zeros(0)))
    with pytest.raises(DataError, match="no data"):
        read_idx_folder(tmp_path, "tiny")


@pytest.mark.parametrize(
    "content",
    [b"not gzip at all", gzip.compress(idx_bytes(np.zeros((6, 3, 2))))[:-12]],
    ids=["garbage", "truncated-gzip"],
)
def test_damaged_gzip_names_the_file(tmp_path: Path, content: bytes) -> None:
    write_idx_folder(tmp_path, gz=True)
    path = tmp_path / (STEMS["train-images"] + ".gz")
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a valid gzip file") as info:
        read_idx_folder(tmp_path, "tiny")
    assert str(path) in str(info.value)


def test_missing_files_are_listed(tmp_path: Path) -> None:
    write_idx_folder(tmp_path)
    (tmp_path / STEMS["test-labels"]).unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        read_idx_folder(tmp_path, "tiny")
