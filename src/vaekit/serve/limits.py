"""The explorer's request limits: what one request may ask for, so no request can exhaust the server."""

from __future__ import annotations

from dataclasses import dataclass

from vaekit.runtime.errors import ConfigError

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on requests to the explorer's API.

    ``max_upload_bytes``: largest uploaded image file (bytes, before base64); the whole request
    body may be 4/3 of it plus a little JSON. ``max_image_pixels``: largest uploaded image
    (width x height, checked before decoding, against decompression bombs). ``max_samples``:
    most samples per ``/api/sample`` request. ``max_steps``: most points per interpolation.
    ``max_abs_latent``: largest |z_i| accepted (the prior is N(0, I); far beyond it float32
    decoders overflow). ``max_map_points``: most test points sent to the page's map.
    """

    max_upload_bytes: int = 5 * MEGABYTE
    max_image_pixels: int = 4096 * 4096
    max_samples: int = 64
    max_steps: int = 32
    max_abs_latent: float = 1000.0
    max_map_points: int = 5000

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_image_pixels", "max_samples", "max_steps", "max_map_points"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps < 2:
            raise ConfigError(f"max_steps must be >= 2 (an interpolation has two ends), got {self.max_steps}")
        if not self.max_abs_latent > 0:
            raise ConfigError(f"max_abs_latent must be > 0, got {self.max_abs_latent}")

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted: a base64-encoded upload (4/3 of its size) plus 64 KiB of JSON."""
        return (self.max_upload_bytes * 4 + 2) // 3 + 64 * 1024
