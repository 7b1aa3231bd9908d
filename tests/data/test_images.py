"""Image folders: greyscale/RGB, class sub-folders, resizing, formats, 16-bit grey, EXIF
orientation, transparency, and every bad-folder check."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.data.holdout import split_indices
from vaekit.data.images import parse_image_size, probe, read_image_folder
from vaekit.data.options import LoadOptions
from vaekit.runtime.errors import DataError, VaekitWarning

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


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_grey_pictures_saved_as_rgb_give_one_channel(tmp_path: Path, suffix: str) -> None:
    grey = [np.random.default_rng(i).integers(0, 256, (4, 5), dtype=np.uint8) for i in range(3)]
    for i, pixels in enumerate(grey):
        Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(tmp_path / f"{i}{suffix}", quality=95)
    assert Image.open(tmp_path / f"0{suffix}").mode == "RGB"
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (1, 4, 5)
    if suffix == ".png":  # JPEG's losses change levels, not channels
        np.testing.assert_array_equal(pixels[:, 0], np.stack(grey))


def test_one_colour_pixel_among_rgb_grey_pictures_keeps_three_channels(tmp_path: Path) -> None:
    for i in range(3):
        pixels = np.full((4, 5, 3), 40 * i, dtype=np.uint8)
        if i == 2:
            pixels[3, 4] = (10, 11, 10)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (3, 4, 5)
    np.testing.assert_array_equal(pixels[2, :, 3, 4], [10, 11, 10])


def test_a_model_of_three_channels_reads_grey_images_as_rgb(tmp_path: Path) -> None:
    grey = write_image(tmp_path / "a.png", "L", seed=1)
    bundle, pixels = read_in_file_order(tmp_path, channels=3)
    assert bundle.shape == (3, 4, 5)
    np.testing.assert_array_equal(pixels[0], np.stack([grey] * 3))
    assert read_in_file_order(tmp_path, channels=1)[0].shape == (1, 4, 5)


def test_class_subfolders_give_labels_in_sorted_order(tmp_path: Path) -> None:
    for name, count in (("zebra", 3), ("ant", 2), ("moth", 1)):
        for i in range(count):
            write_image(tmp_path / name / f"{i}.png", seed=i)
    bundle = read_image_folder(tmp_path, LoadOptions(test_fraction=0.5))
    labels = torch.cat([bundle.train_labels, bundle.test_labels])
    assert sorted(labels.tolist()) == [0, 0, 1, 2, 2, 2]  # ant=0, moth=1, zebra=2
    assert bundle.num_classes == 3 and bundle.train_labels.dtype == torch.int64
    assert bundle.class_names == ("ant", "moth", "zebra")  # the run keeps which name is which number


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


def make_other_format_named_png(folder: Path) -> Path:
    write_image(folder / "good.png")
    path = folder / "icon.png"
    Image.new("L", (4, 5)).save(path, format="PCX")  # a format Pillow reads but vaekit does not try
    return path


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
        (make_text_file, "not an image \\(.png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp\\)"),
        (make_corrupt_png, "cannot be read as an image"),
        (make_truncated_png, "cannot be read as an image"),
        (make_nested_folder, "only one level of class sub-folders is read"),
        (make_other_format_named_png, "cannot be read as an image"),
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
    monkeypatch.setattr("vaekit.data.images.read_pixels", lambda path, *args: resized.append(path))
    options = LoadOptions(test_fraction=0.25, image_size="60000x60000x3")
    with pytest.raises(DataError, match=r"reading 3 image\(s\) of 60000x60000 pixels x 3 channel\(s\) needs about "
                       r"[\d.]+ GiB of memory, but this machine has 1.0 GiB available; pass a smaller --image-size"):
        read_image_folder(tmp_path, options)
    assert resized == []


def read_in_file_order(folder: Path, **options) -> tuple:
    """Return ``(bundle, pixels)``: the folder read with nothing held out, and its images as
    uint8 ``[N, C, H, W]`` in file (sorted name) order."""
    bundle = read_image_folder(folder, LoadOptions(hold_out=False, **options))
    order = np.argsort(bundle.file_rows[0])
    return bundle, bundle.train.numpy()[order].reshape(-1, *bundle.shape)


def save_wide_grey(path: Path, values: np.ndarray, mode: str) -> None:
    """Save 16-bit ``values`` so that Pillow opens them in ``mode``."""
    if mode == "I;16B":  # big-endian 16-bit TIFF
        Image.frombytes(mode, values.shape[::-1], values.astype(">u2").tobytes()).save(path)
    elif mode == "I":  # 32-bit TIFF, as Pillow may give 16-bit grey
        Image.fromarray(values.astype(np.int32)).save(path)
    else:
        Image.fromarray(values.astype(np.uint16)).save(path)


@pytest.mark.parametrize(("suffix", "mode"), [(".png", "I;16"), (".tif", "I;16"), (".tif", "I;16B"), (".tif", "I")])
def test_16_bit_grey_is_read_as_8_bit_grey(tmp_path: Path, suffix: str, mode: str) -> None:
    # 257k + 128 rounds down to k, 257k + 129 up to k + 1; 65535 is level 255
    values = np.array([[0, 128, 129, 257 * 100 + 128], [257 * 100 + 129, 30000, 65534, 65535]])
    for i in range(2):
        save_wide_grey(tmp_path / f"{i}{suffix}", values, mode)
    assert Image.open(tmp_path / f"0{suffix}").mode == mode
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (1, 2, 4) and bundle.levels == 256
    expected = np.array([[0, 0, 1, 100], [101, 117, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(pixels[0, 0], expected)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_exif_orientation_turns_images_upright(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 256, (28, 36), dtype=np.uint8)  # 36 wide x 28 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter turn clockwise: 28 wide x 36 high
    Image.fromarray(stored).save(tmp_path / f"a{suffix}", exif=exif)
    Image.fromarray(rng.integers(0, 256, (36, 28), dtype=np.uint8)).save(tmp_path / f"b{suffix}")
    bundle, pixels = read_in_file_order(tmp_path)  # mixed with an upright 36x28: same size
    assert bundle.shape == (1, 36, 28)
    assert probe(tmp_path / f"a{suffix}").size == (36, 28)  # from the header, as the pixels
    decoded = np.asarray(Image.open(tmp_path / f"a{suffix}"))  # JPEG: the same lossy decoding
    np.testing.assert_array_equal(pixels[0, 0], np.rot90(decoded, k=-1))


def grey_palette_image(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(grey).convert("P")  # Pillow gives L -> P a grey palette


def colour_palette_grey_pixels(grey: np.ndarray) -> Image.Image:
    web = (grey // 51 * 51).astype(np.uint8)  # greys that the web palette holds exactly
    return Image.fromarray(np.stack([web] * 3, -1)).convert("P", palette=Image.Palette.WEB, dither=Image.Dither.NONE)


def opaque_grey_alpha(grey: np.ndarray) -> Image.Image:
    return Image.fromarray(np.stack([grey, np.full_like(grey, 255)], -1), "LA")


@pytest.mark.parametrize("make", [grey_palette_image, colour_palette_grey_pixels, opaque_grey_alpha])
def test_grey_images_in_other_modes_give_one_channel(tmp_path: Path, make) -> None:
    grey = np.random.default_rng(0).integers(0, 256, (4, 5), dtype=np.uint8)
    image = make(grey)
    for i in range(2):
        image.save(tmp_path / f"{i}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # opaque: no transparency warning
        bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (1, 4, 5)
    np.testing.assert_array_equal(pixels[0, 0], np.asarray(image.convert("L")))


def test_a_palette_with_colours_in_use_makes_the_folder_rgb(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "L")
    colours = np.zeros((4, 5, 3), dtype=np.uint8)
    colours[..., 0] = 255  # red, held exactly by the web palette
    Image.fromarray(colours).convert("P", palette=Image.Palette.WEB).save(tmp_path / "b.png")
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (3, 4, 5)
    np.testing.assert_array_equal(pixels[1, 0], 255)
    np.testing.assert_array_equal(pixels[1, 1:], 0)


def test_transparency_is_composited_onto_black_with_one_warning(tmp_path: Path) -> None:
    alpha = np.array([[0, 64, 128, 255]], dtype=np.uint8)  # the picture is in the alpha channel
    Image.fromarray(np.dstack([np.full((1, 4, 3), 255, np.uint8), alpha[..., None]])).save(tmp_path / "a.png")
    Image.fromarray(np.dstack([np.full((1, 4), 200, np.uint8), alpha]), "LA").save(tmp_path / "b.png")
    indexed = Image.fromarray(np.array([[0, 1, 1, 0]], dtype=np.uint8), "P")
    indexed.putpalette([90, 90, 90, 30, 60, 240])
    indexed.save(tmp_path / "c.png", transparency=1)  # entry 1 fully transparent
    Image.fromarray(np.full((1, 4, 3), (7, 8, 9), np.uint8)).save(tmp_path / "d.png")  # opaque colour
    with pytest.warns(VaekitWarning) as caught:
        bundle, pixels = read_in_file_order(tmp_path)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "3 of 4 image(s)" in message and "onto black" in message and "flatten the images" in message
    assert bundle.shape == (3, 1, 4)
    np.testing.assert_array_equal(pixels[0, 0, 0], [0, 64, 128, 255])  # white x alpha
    np.testing.assert_array_equal(pixels[1, 0, 0], [0, 50, 100, 200])  # 200 x alpha / 255, rounded
    np.testing.assert_array_equal(pixels[2, :, 0], [[90, 0, 0, 90]] * 3)
    np.testing.assert_array_equal(pixels[3, :, 0], [[7] * 4, [8] * 4, [9] * 4])


@pytest.mark.parametrize("suffix", [".bmp", ".gif", ".tif", ".tiff", ".webp"])
def test_other_image_formats_are_read(tmp_path: Path, suffix: str) -> None:
    grey = [np.random.default_rng(i).integers(0, 256, (4, 5), dtype=np.uint8) for i in range(2)]
    for i, pixels in enumerate(grey):
        Image.fromarray(pixels).save(tmp_path / f"{i}{suffix}", lossless=True)  # WebP: lossless
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (1, 4, 5)  # Pillow writes a grey WebP as RGB; its pixels are grey
    np.testing.assert_array_equal(pixels[:, 0], np.stack(grey))


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [np.full((4, 5), level, dtype=np.uint8) for level in (10, 200, 90)]
    for name in ("a.gif", "b.gif"):
        first, *rest = (Image.fromarray(f) for f in frames)
        first.save(tmp_path / name, save_all=True, append_images=rest)
    bundle, pixels = read_in_file_order(tmp_path)
    assert bundle.shape == (1, 4, 5)
    np.testing.assert_array_equal(pixels, 10)
