"""Folders of PNG/JPEG images, optionally one sub-folder per class, read with Pillow."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vaekit.data.bundle import DataBundle
from vaekit.data.holdout import split_bundle
from vaekit.data.options import LoadOptions
from vaekit.data.validate import as_grey_levels
from vaekit.runtime.errors import DataError
from vaekit.runtime.memory import require_memory

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L")  # Pillow modes read as one grey channel; anything else becomes RGB
GREY_LEVELS = 256  # 8 bits per channel after conversion to L or RGB
#: copies of the pixels held at once while a folder is read (one array per image, then the stack)
READ_COPIES = 2
SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?)?$")


def parse_image_size(spec: str) -> tuple[int, int, int | None]:
    """Return ``(height, width, channels)`` in pixels from ``"28"``, ``"28x32"`` (HxW) or
    ``"32x32x3"``; ``channels`` (1 or 3) is ``None`` when not given."""
    match = SIZE_PATTERN.match(str(spec))
    if match is None:
        raise DataError(
            f"image size {spec!r} not understood; use e.g. '28' (28x28), '28x28' "
            "(height x width) or '32x32x3' (with 1 or 3 channels)"
        )
    height = int(match.group(1))
    width = int(match.group(2)) if match.group(2) else height
    channels = int(match.group(3)) if match.group(3) else None
    if height < 1 or width < 1:
        raise DataError(f"image size {spec!r}: height and width must be at least 1 pixel")
    if channels not in (None, 1, 3):
        raise DataError(f"image size {spec!r}: channels must be 1 (grey) or 3 (RGB)")
    return height, width, channels


def visible_children(folder: Path) -> list[Path]:
    """Return the entries of ``folder`` sorted by name, without hidden ones (``.DS_Store``)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def check_image_name(path: Path) -> Path:
    """Return ``path`` if its suffix is an image one, else raise ``DataError`` naming it."""
    if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(
            f"{path}: not a PNG/JPEG image ({', '.join(IMAGE_SUFFIXES)}); an image folder "
            "may hold only images, or one sub-folder of images per class; move it elsewhere"
        )
    return path


def list_images(folder: Path) -> tuple[list[Path], list[int] | None]:
    """Return ``(files, labels)``: the images of ``folder`` in sorted order, and their class
    indices (sub-folder names sorted -> 0..K-1), or ``None`` without class sub-folders."""
    children = visible_children(folder)
    subfolders = [p for p in children if p.is_dir()]
    if not subfolders:
        return [check_image_name(p) for p in children], None
    loose = [p for p in children if not p.is_dir()]
    if loose:
        raise DataError(
            f"{loose[0]}: a file next to class sub-folders in {folder}; put every image in "
            "its class sub-folder (or use no sub-folders at all)"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, sub in enumerate(subfolders):
        members = [check_image_name(p) for p in visible_children(sub)]
        if not members:
            raise DataError(f"{sub}: class folder holds no images; remove it or add images")
        files += members
        labels += [label] * len(members)
    return files, labels


def open_error(path: Path, exc: Exception) -> DataError:
    """Return the ``DataError`` for an image file Pillow cannot read."""
    return DataError(f"{path}: cannot be read as an image ({exc}); fix or remove the file")


def probe(path: Path) -> tuple[str, tuple[int, int]]:
    """Return ``(mode, (height, width))`` of the image at ``path``; reads the header only."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode, (im.height, im.width)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise open_error(path, exc) from None


def load_pixels(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """Return the image at ``path`` as uint8 ``[C, H, W]`` in Pillow ``mode`` (``"L"`` or
    ``"RGB"``), resized to ``size`` = (height, width) in pixels when given."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None and (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise open_error(path, exc) from None
    return pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, 2, 0)


def check_pixels_fit(n: int, channels: int, size: tuple[int, int]) -> None:
    """Raise ``DataError`` when ``n`` images of ``size`` = (height, width) pixels and
    ``channels`` (one byte each) cannot be held in this machine's free memory while they are
    read, before any is decoded or resized."""
    height, width = size
    require_memory(
        READ_COPIES * n * channels * height * width,
        f"reading {n} image(s) of {height}x{width} pixels x {channels} channel(s)",
        advice="pass a smaller --image-size (e.g. --image-size 64), or fewer images",
        error=DataError,
    )


def read_image_folder(folder: Path, options: LoadOptions) -> DataBundle:
    """Return the images in ``folder`` as a randomly split ``DataBundle``: uint8 grey levels
    (256; /255 gives [0, 1]), shape ``(C, H, W)`` (C = 1 if every image is greyscale, else 3,
    unless ``options.image_size`` fixes it), labels from class sub-folders if present."""
    files, labels = list_images(folder)
    if not files:
        raise DataError(f"{folder}: holds no images (PNG/JPEG); nothing to load")
    target = parse_image_size(options.image_size) if options.image_size else None
    probes = [probe(p) for p in files]
    if target is None:
        sizes: dict[tuple[int, int], Path] = {}
        for path, (_, image_size) in zip(files, probes, strict=True):
            sizes.setdefault(image_size, path)  # keep the first file of each size
        if len(sizes) > 1:
            (size_a, file_a), (size_b, file_b) = list(sizes.items())[:2]
            raise DataError(
                f"images in {folder} differ in size: {file_a} is {size_a[0]}x{size_a[1]} but "
                f"{file_b} is {size_b[0]}x{size_b[1]} (height x width); pass --image-size "
                f"(e.g. --image-size {size_a[0]}x{size_a[1]}) to resize them all"
            )
        size = probes[0][1]
        channels = None
    else:
        size = target[:2]
        channels = target[2]
    if channels is None:
        channels = 1 if all(mode in GREY_MODES for mode, _ in probes) else 3
    mode = "L" if channels == 1 else "RGB"
    check_pixels_fit(len(files), channels, size)
    pixels = np.stack([load_pixels(p, mode, size) for p in files])
    features = as_grey_levels(pixels.reshape(len(files), -1), GREY_LEVELS, str(folder))
    return split_bundle(
        str(folder),
        features,
        None if labels is None else np.asarray(labels, dtype=np.int64),
        shape=(channels, size[0], size[1]),
        kind="image",
        value_range="unit",
        levels=GREY_LEVELS,
        test_fraction=options.test_fraction,
        seed=options.seed,
        hold_out=options.hold_out,
        source=str(folder),
    )
