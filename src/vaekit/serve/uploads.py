"""Turning an uploaded image into one example the model can encode, refusing anything else."""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from vaekit.runtime.errors import DataError

#: Formats Pillow may open for an upload: plain raster formats only (no EPS/PDF, which would
#: run external programs such as Ghostscript).
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


class UploadTooLargeError(DataError):
    """An upload is bigger than the server's limit (bytes or pixels)."""


def decode_base64(text: str, max_bytes: int) -> bytes:
    """Return the bytes of a base64 string, or of a ``data:...;base64,`` URL as browsers write.

    Raises ``UploadTooLargeError`` past ``max_bytes`` and ``DataError`` for text that is not base64.
    """
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or ";base64" not in header:
            raise DataError("image: a data URL must be base64-encoded (data:image/png;base64,...)")
    if len(text) * 3 // 4 > max_bytes + 3:
        raise UploadTooLargeError(f"image: the upload is larger than the limit of {max_bytes} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("image: not valid base64 (send the file's bytes base64-encoded, or a data URL)") from None
    if len(raw) > max_bytes:
        raise UploadTooLargeError(f"image: {len(raw)} bytes is larger than the limit of {max_bytes} bytes")
    if not raw:
        raise DataError("image: the upload is empty")
    return raw


def image_to_example(data: bytes, shape: tuple[int, ...], *, max_pixels: int, invert: bool = False) -> np.ndarray:
    """Return the image in ``data`` as one example ``[C*H*W]`` of grey levels in [0, 1].

    ``shape`` is the model's ``(C, H, W)``: the image is converted to grey (C = 1) or RGB (C = 3),
    transparent parts drawn over black, and resized to H x W (bilinear). ``invert`` maps v to 1 - v
    (for dark-on-light drawings when the model saw light-on-dark digits). Raises ``DataError`` for
    bytes that are not a PNG/JPEG/GIF/BMP/WebP image and ``UploadTooLargeError`` past ``max_pixels``.
    """
    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    try:
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as im:
            # The header gives the size before any pixel is decoded: refuse bombs here.
            if im.width * im.height > max_pixels:
                raise UploadTooLargeError(
                    f"image: {im.width}x{im.height} pixels is larger than the limit of {max_pixels} pixels"
                )
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                im = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
            im = im.convert("L" if channels == 1 else "RGB")
            if (im.height, im.width) != (height, width):
                im = im.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.float32) / 255.0
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"image: not an image Pillow can read as one of {', '.join(UPLOAD_FORMATS)}") from None
    except Image.DecompressionBombError:
        raise UploadTooLargeError("image: too many pixels (decompression bomb check)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"image: the file is damaged or truncated ({exc})") from None
    pixels = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, 2, 0)
    if invert:
        pixels = 1.0 - pixels
    return pixels.reshape(-1)
