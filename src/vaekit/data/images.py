"""Folders of images, optionally one sub-folder per class, read with Pillow.

Formats: PNG, JPEG, BMP, GIF (the first frame only), TIFF and WebP, by suffix. Every image is
read as 8-bit grey levels (256): 16-bit grey images are scaled to 8 bits (value / 257,
rounded). Images are turned upright as their EXIF orientation says, as viewers show them.
Transparent or partly transparent pixels are composited onto black (colour x alpha / 255), the
rule vaekit's explorer uses for uploads; a folder with any such image gives one
``VaekitWarning``. The folder has one channel when every image is grey (grey modes, 16-bit
grey, grey + alpha, or colour modes and palettes whose pixels in use are all grey: R = G = B),
else three (RGB).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from vaekit.data.bundle import DataBundle
from vaekit.data.holdout import split_bundle
from vaekit.data.options import LoadOptions
from vaekit.data.validate import as_grey_levels
from vaekit.runtime.errors import DataError, VaekitWarning, user_stacklevel
from vaekit.runtime.memory import require_memory

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: the Pillow decoders tried; naming them keeps a mis-named file away from the others (EPS
#: would run Ghostscript); "JPEG" also opens multi-picture (MPO) JPEGs.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # Pillow may open 16-bit grey as "I"
GREY_MODES = ("1", "L", "LA", *WIDE_GREY_MODES)  # Pillow modes that are grey whatever the pixels
ALPHA_MODES = ("LA", "PA", "RGBA")
PALETTE_LAYOUTS = ("RGB", "RGBA", "RGBX", "BGR", "BGRX")  # bytes per entry, red/blue first
GREY_LEVELS = 256  # 8 bits per channel after conversion to L or RGB
WIDE_TO_8_BITS = 257  # 65535 / 255: 16-bit grey value -> 8-bit level
OPAQUE = 255  # alpha of a fully opaque pixel
EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = (5, 6, 7, 8)  # EXIF orientations shown with height and width swapped
#: copies of the pixels held at once while a folder is read (one array per image, then the stack)
READ_COPIES = 2
SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?)?$")
READ_ERRORS = (OSError, ValueError, SyntaxError)  # with DecompressionBombError: unreadable


class ImageInfo(NamedTuple):
    """What an image's header tells: ``grey`` (``None`` for a colour mode or a palette holding
    colours: only its pixels tell whether those in use are grey) and ``size`` = (height, width) in pixels,
    upright as its EXIF orientation says."""

    grey: bool | None
    size: tuple[int, int]


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


def is_image_path(path: Path) -> bool:
    """True for a folder (of images, or of IDX files: 8-bit images too) or a file with an image
    suffix: data read as 8-bit pixels, not as values of a run's own grey levels."""
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


def check_image_name(path: Path) -> Path:
    """Return ``path`` if it is a file with an image suffix, else raise ``DataError`` naming it."""
    if path.is_dir():
        raise DataError(
            f"{path}: a folder inside a class folder; only one level of class sub-folders is read "
            f"(each holding its images); move these images into {path.parent} or make the folder "
            "a class of its own"
        )
    if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(
            f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}); an image folder may hold only "
            "images, or one sub-folder of images per class; move it elsewhere"
        )
    return path


def class_folders(folder: Path) -> list[Path]:
    """Return the class sub-folders of ``folder`` in sorted order: class ``i`` is the ``i``-th."""
    return [p for p in visible_children(folder) if p.is_dir()]


def list_images(folder: Path) -> tuple[list[Path], list[int] | None]:
    """Return ``(files, labels)``: the images of ``folder`` in sorted order, and their class
    indices (sub-folder names sorted -> 0..K-1), or ``None`` without class sub-folders."""
    children = visible_children(folder)
    subfolders = class_folders(folder)
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


def open_image(path: Path) -> Image.Image:
    """Return the image at ``path`` opened lazily (header read, pixels not decoded)."""
    from PIL import Image

    return Image.open(path, formats=IMAGE_FORMATS)


def header_orientation(im: Image.Image) -> int:
    """Return the EXIF orientation of ``im`` (1 = upright .. 8) without decoding its pixels."""
    if im.format == "PNG" and "exif" not in im.info:
        # Pillow looks for an eXIf chunk after the pixels only by decoding them all; the chunk
        # belongs before them, and load_pixels follows this same rule, so sizes agree.
        return 1
    return int(im.getexif().get(EXIF_ORIENTATION, 1))


def palette_is_grey(im: Image.Image) -> bool:
    """Return whether every entry of the palette of ``im`` (read with the header) is grey."""
    layout = im.palette.rawmode or im.palette.mode
    if layout not in PALETTE_LAYOUTS:
        return False  # an unusual layout: let the pixels decide
    entries = np.frombuffer(im.palette.palette, dtype=np.uint8)
    entries = entries[: entries.size // len(layout) * len(layout)].reshape(-1, len(layout))[:, :3]
    return bool((entries == entries[:, :1]).all())


def header_grey(im: Image.Image) -> bool | None:
    """Return ``True`` if ``im`` is grey by its mode or palette, ``None`` when only its pixels
    can tell (a colour mode, or a palette holding colours)."""
    if im.mode in GREY_MODES:
        return True
    if im.mode in ("P", "PA") and im.palette is not None and palette_is_grey(im):
        return True
    # Grey pictures are often saved as RGB (Pillow writes grey WebP so): their pixels decide.
    return None


def probe(path: Path) -> ImageInfo:
    """Return the ``ImageInfo`` of the image at ``path``; reads the header only."""
    from PIL import Image

    try:
        with open_image(path) as im:
            height, width = im.height, im.width
            if header_orientation(im) in QUARTER_TURNS:
                height, width = width, height
            return ImageInfo(header_grey(im), (height, width))
    except (*READ_ERRORS, Image.DecompressionBombError) as exc:
        raise open_error(path, exc) from None


def wide_grey_to_8_bits(im: Image.Image) -> Image.Image:
    """Return the 16-bit grey image ``im`` as an ``"L"`` image of levels 0..255 (value / 257,
    rounded; values outside 0..65535, possible in mode ``"I"``, are clipped)."""
    from PIL import Image

    wide = np.asarray(im).astype(np.int64)
    # floor((2v + 257) / 514) = round(v / 257); v / 257 is never a half, so no tie to break
    levels = (2 * wide + WIDE_TO_8_BITS) // (2 * WIDE_TO_8_BITS)
    return Image.fromarray(np.clip(levels, 0, GREY_LEVELS - 1).astype(np.uint8))


def flatten(im: Image.Image) -> tuple[Image.Image, bool]:
    """Return ``(image, translucent)``: ``im`` with 8 bits per channel and no alpha, transparent
    parts composited onto black (each channel x alpha / 255, rounded), and whether any pixel
    had an alpha below 255."""
    from PIL import Image

    if im.mode in WIDE_GREY_MODES:
        return wide_grey_to_8_bits(im), False
    if im.mode not in ALPHA_MODES and "transparency" not in im.info:
        return im, False
    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint32)
    alpha = rgba[..., 3:]
    # Black, not white: the colour under a transparent pixel is arbitrary, and light-on-dark
    # pictures drawn in the alpha channel (white ink) stay visible.
    rgb = (rgba[..., :3] * alpha + OPAQUE // 2) // OPAQUE
    return Image.fromarray(rgb.astype(np.uint8)), bool((alpha < OPAQUE).any())


def read_pixels(path: Path, mode: str, size: tuple[int, int] | None) -> tuple[np.ndarray, bool]:
    """Return ``(pixels, translucent)``: the image at ``path`` as uint8 ``[C, H, W]`` levels in
    Pillow ``mode`` (``"L"`` or ``"RGB"``), upright, flattened as ``flatten`` says and resized to
    ``size`` = (height, width) in pixels when given; ``translucent`` as ``flatten`` says."""
    from PIL import Image, ImageOps

    try:
        with open_image(path) as im:
            upright = im if header_orientation(im) == 1 else ImageOps.exif_transpose(im)
            flat, translucent = flatten(upright)
            flat = flat.convert(mode)
            if size is not None and (flat.height, flat.width) != size:
                flat = flat.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(flat, dtype=np.uint8)
    except (*READ_ERRORS, Image.DecompressionBombError) as exc:
        raise open_error(path, exc) from None
    return (pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, 2, 0)), translucent


def load_pixels(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """Return the image at ``path`` as uint8 ``[C, H, W]`` levels (0..255) in Pillow ``mode``
    (``"L"`` or ``"RGB"``), read as ``read_pixels`` says, resized to ``size`` = (height, width)
    in pixels when given."""
    return read_pixels(path, mode, size)[0]


def folder_channels(files: list[Path], infos: list[ImageInfo]) -> int:
    """Return 1 if every image of ``files`` is grey (R = G = B in every pixel), else 3; images
    whose headers leave it open are decoded until one holds a colour."""
    undecided = (path for path, info in zip(files, infos, strict=True) if info.grey is None)
    for path in undecided:
        pixels = read_pixels(path, "RGB", None)[0]
        if not (pixels == pixels[:1]).all():
            return 3
    return 1


def warn_translucent(folder: Path, count: int, total: int) -> None:
    """Warn (``VaekitWarning``) that ``count`` of the ``total`` images in ``folder`` have pixels
    that are not fully opaque, and how they were read."""
    warnings.warn(
        f"{folder}: {count} of {total} image(s) have transparent or partly transparent pixels; "
        "they were composited onto black (colour x opacity), so fully transparent parts read as "
        "black. For another background, flatten the images yourself first (e.g. Pillow: "
        "Image.alpha_composite onto a white RGBA image, then save as RGB)",
        VaekitWarning,
        stacklevel=user_stacklevel(),
    )


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


def common_size(folder: Path, files: list[Path], infos: list[ImageInfo]) -> tuple[int, int]:
    """Return the (height, width) in pixels shared by every image, else raise ``DataError``
    naming two images that differ."""
    sizes: dict[tuple[int, int], Path] = {}
    for path, info in zip(files, infos, strict=True):
        sizes.setdefault(info.size, path)  # keep the first file of each size
    if len(sizes) > 1:
        (size_a, file_a), (size_b, file_b) = list(sizes.items())[:2]
        raise DataError(
            f"images in {folder} differ in size: {file_a} is {size_a[0]}x{size_a[1]} but "
            f"{file_b} is {size_b[0]}x{size_b[1]} (height x width); pass --image-size "
            f"(e.g. --image-size {size_a[0]}x{size_a[1]}) to resize them all"
        )
    return infos[0].size


def read_image_folder(folder: Path, options: LoadOptions) -> DataBundle:
    """Return the images in ``folder`` as a randomly split ``DataBundle``: uint8 grey levels
    (256; /255 gives [0, 1]), shape ``(C, H, W)`` (C = 1 if every image is greyscale, else 3,
    unless ``options.image_size`` fixes it or ``options.channels`` is 3), labels from class sub-folders if present (their
    names in ``class_names``)."""
    files, labels = list_images(folder)
    if not files:
        raise DataError(f"{folder}: holds no images ({', '.join(IMAGE_SUFFIXES)}); nothing to load")
    bundle = read_images(folder, files, labels, options)
    if labels is None:
        return bundle
    return replace(bundle, class_names=tuple(p.name for p in class_folders(folder)))


def read_image_file(path: Path, options: LoadOptions) -> DataBundle:
    """Return one image file as a ``DataBundle`` of one example, read as a folder's images are
    (for ``encode``, ``score`` or ``evaluate --data`` of one image: ``options.hold_out`` False)."""
    check_image_name(path)
    if options.hold_out:
        raise DataError(
            f"{path}: one image is one example, too few to split into training and test examples; train on a "
            "folder of images, or leave out --split to use the image whole"
        )
    return read_images(path, [path], None, options)


def read_images(source: Path, files: list[Path], labels: list[int] | None, options: LoadOptions) -> DataBundle:
    """Return the images ``files`` (with class ``labels``, or None) of ``source`` as a split
    ``DataBundle``, as :func:`read_image_folder` describes."""
    target = parse_image_size(options.image_size) if options.image_size else None
    infos = [probe(p) for p in files]
    size = common_size(source, files, infos) if target is None else target[:2]
    channels = target[2] if target is not None else None
    if channels is None:
        channels = folder_channels(files, infos)
        if channels == 1 and options.channels == 3:
            channels = 3  # grey repeated on three channels, as a model of colour images takes them
    check_pixels_fit(len(files), channels, size)
    mode = "L" if channels == 1 else "RGB"
    read = [read_pixels(p, mode, size) for p in files]
    translucent = sum(flag for _, flag in read)
    if translucent:
        warn_translucent(source, translucent, len(files))
    pixels = np.stack([image for image, _ in read])
    del read  # READ_COPIES counts the per-image arrays only until the stack holds them
    features = as_grey_levels(pixels.reshape(len(files), -1), GREY_LEVELS, str(source))
    return split_bundle(
        str(source),
        features,
        None if labels is None else np.asarray(labels, dtype=np.int64),
        shape=(channels, size[0], size[1]),
        kind="image",
        value_range="unit",
        levels=GREY_LEVELS,
        test_fraction=options.test_fraction,
        seed=options.seed,
        hold_out=options.hold_out,
        source=str(source),
    )
