"""Image folders: greyscale/RGB, class sub-folders, resizing, and every bad-folder check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.data.holdout import split_indices
from vaekit.data.images import parse_image_size, read_image_folder
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError

from .helpers import write_image

OPTIONS = LoadOptions(test_fraction=0.25)


def test_greyscale_folder(tmp_path: Path) -> None:
    pixels = [write_image(tmp_path / f"{i}.png", "L", (4, 5), seed=i) for i in range(4)]
    (tmp_path / ".DS_Store").write_bytes(b"junk that must be ignored")
    bundle = read_image_folder(tmp_path, OPTIONS)
    assert bundle.kind == "image" and bundle.shape == (1, 4, 5)
    assert bundle.value_range == "unit" and bundle.levels == 256
    assert bundle.train.dtype == torch.uint8 and bundle.dim == 20
    assert bundle.train_labels is None
    train_idx, test_idx = split_indices(4, 0.25, 0, str(tmp_path))
    expected = np.stack(pixels).reshape(4, -1)
    np.testing.assert_array_equal(bundle.train.numpy(), expected[train_idx])
    np.testing.assert_array_equal(bundle.test.numpy(), expected[test_idx])


def test_any_colour_image_makes_the_folder_rgb(tmp_path: Path) -> None:
    grey = write_image(tmp_path / "a.png", "L", seed=1)
    colour = write_image(tmp_path / "b.png", "RGB", seed=2)
    bundle = read_image_folder(tmp_path, LoadOptions(test_fraction=0.5))
    assert bundle.shape == (3, 4, 5) and bundle.dim == 60
    rows = {tuple(r) for r in torch.cat([bundle.train, bundle.test]).tolist()}
    as_rgb = np.stack([grey] * 3)  # a grey image is repeated on the three channels
    for expected in (as_rgb, np.moveaxis(colour, 2, 0)):
        assert tuple(expected.reshape(-1).tolist()) in rows


def test_class_subfolders_give_labels_in_sorted_order(tmp_path: Path) -> None:
    for name, count in (("zebra", 3), ("ant", 2), ("moth", 1)):
        for i in range(count):
            write_image(tmp_path / name / f"{i}.png", seed=i)
    bundle = read_image_folder(tmp_path, LoadOptions(test_fraction=0.5))
    labels = torch.cat([bundle.train_labels, bundle.test_labels])
    assert sorted(labels.tolist()) == [0, 0, 1, 2, 2, 2]  # ant=0, moth=1, zebra=2
    assert bundle.num_classes == 3 and bundle.train_labels.dtype == torch.int64


def test_mixed_sizes_need_image_size(tmp_path: Path) -> None:
    write_image(tmp_path / "small.png", size=(4, 5))
    write_image(tmp_path / "big.png", size=(8, 6))
    with pytest.raises(DataError, match="--image-size") as info:
        read_image_folder(tmp_path, OPTIONS)
    message = str(info.value)
    assert "small.png is 4x5" in message and "big.png is 8x6" in message


@pytest.mark.parametrize(
    ("image_size", "shape"),
    [("7", (3, 7, 7)), ("3x6", (3, 3, 6)), ("5X4x3", (3, 5, 4)), ("4x4x1", (1, 4, 4))],
)
def test_image_size_resizes_mixed_folders(tmp_path: Path, image_size: str, shape) -> None:
    write_image(tmp_path / "small.png", size=(4, 5))
    write_image(tmp_path / "big.png", "RGB", size=(8, 6))
    bundle = read_image_folder(tmp_path, LoadOptions(image_size=image_size))
    assert bundle.shape == shape and bundle.dim == int(np.prod(shape))
    assert bundle.train.dtype == torch.uint8 and bundle.levels == 256


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("28", (28, 28, None)), ("28x32", (28, 32, None)), (" 32 x 32 x 3 ", (32, 32, 3))],
)
def test_parse_image_size(spec: str, expected) -> None:
    assert parse_image_size(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("", "not understood"),
        ("abc", "not understood"),
        ("28x", "not understood"),
        ("-3", "not understood"),
        ("0x4", "at least 1"),
        ("4x4x2", "1 \\(grey\\) or 3"),
    ],
)
def test_bad_image_size(spec: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_image_size(spec)


def make_text_file(folder: Path) -> Path:
    write_image(folder / "good.png")
    path = folder / "notes.txt"
    path.write_text("not an image")
    return path


def make_corrupt_png(folder: Path) -> Path:
    write_image(folder / "good.png")
    path = folder / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return path


def make_truncated_png(folder: Path) -> Path:
    write_image(folder / "good.png", size=(40, 40))
    path = folder / "cut.png"
    write_image(path, size=(40, 40))
    path.write_bytes(path.read_bytes()[:-60])
    return path


def make_nested_folder(folder: Path) -> Path:
    write_image(folder / "cls" / "ok.png")
    write_image(folder / "cls" / "deeper" / "x.png")
    return folder / "cls" / "deeper"


def make_loose_file_beside_classes(folder: Path) -> Path:
    write_image(folder / "cls" / "ok.png")
    write_image(folder / "loose.png")
    return folder / "loose.png"


def make_empty_class(folder: Path) -> Path:
    write_image(folder / "cls" / "ok.png")
    (folder / "empty").mkdir()
    return folder / "empty"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (make_text_file, "not a PNG/JPEG image"),
        (make_corrupt_png, "cannot be read as an image"),
        (make_truncated_png, "cannot be read as an image"),
        (make_nested_folder, "not a PNG/JPEG image"),
        (make_loose_file_beside_classes, "next to class sub-folders"),
        (make_empty_class, "holds no images"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, make, match: str) -> None:
    culprit = make(tmp_path)
    with pytest.raises(DataError, match=match) as info:
        read_image_folder(tmp_path, OPTIONS)
    assert str(culprit) in str(info.value)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no images"):
        read_image_folder(tmp_path, OPTIONS)


def test_single_image_cannot_be_split(tmp_path: Path) -> None:
    write_image(tmp_path / "only.png")
    with pytest.raises(DataError, match="at least 2"):
        read_image_folder(tmp_path, OPTIONS)


def test_a_size_too_large_for_memory_is_refused_before_any_image_is_resized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaekit.runtime import memory

    monkeypatch.setattr(memory, "system_available_bytes", lambda: 1 << 30)  # 1 GiB free
    for i in range(3):
        write_image(tmp_path / f"{i}.png", "L", (4, 5), seed=i)
    resized: list[Path] = []
    monkeypatch.setattr("vaekit.data.images.load_pixels", lambda path, *args: resized.append(path))
    options = LoadOptions(test_fraction=0.25, image_size="60000x60000x3")
    with pytest.raises(DataError, match=r"reading 3 image\(s\) of 60000x60000 pixels x 3 channel\(s\) needs about "
                       r"[\d.]+ GiB of memory, but this machine has 1.0 GiB available; pass a smaller --image-size"):
        read_image_folder(tmp_path, options)
    assert resized == []
