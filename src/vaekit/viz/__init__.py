"""Pictures of models: grids of samples and reconstructions (read-only use of models)."""

from vaekit.viz.grid import image_grid, save_grid

__all__ = ["image_grid", "save_grid"]
