"""Pictures of models (read-only use of a loaded model): grids of samples and reconstructions,
interpolations, traversals, latent scatter plots, the 2-D manifold, training curves, the run
report and the architecture diagram; ``write_run_pictures`` puts a run's samples and
reconstructions into its folder, as ``vaekit train`` does.

Each picture is a function returning a uint8 image array or a matplotlib ``Figure``;
``picture_png`` turns either into PNG bytes. matplotlib is imported only when a figure is drawn.

    import vaekit, vaekit.viz as viz
    vae = vaekit.load("runs/digits")
    x, labels = vaekit.api.resolve_eval_data(vae, None, "test")
    png = viz.picture_png(viz.latent_scatter(vae, x, labels))
"""

from vaekit.viz.curves import read_metrics, training_curves
from vaekit.viz.figure import figure_png, picture_png
from vaekit.viz.grid import image_grid, label_rows, save_grid
from vaekit.viz.interpolation import interpolation_figure, interpolation_rows, lerp, slerp
from vaekit.viz.latents import embed_2d, latent_scatter
from vaekit.viz.manifold import manifold_grid, quantile_grid
from vaekit.viz.reconstructions import reconstruction_grid
from vaekit.viz.report import write_report
from vaekit.viz.run_pictures import write_run_pictures
from vaekit.viz.samples import sample_grid
from vaekit.viz.traversal import informative_dimensions, kl_per_dimension, traversal_figure, traversal_rows

__all__ = [
    "embed_2d",
    "figure_png",
    "image_grid",
    "informative_dimensions",
    "interpolation_figure",
    "interpolation_rows",
    "kl_per_dimension",
    "label_rows",
    "latent_scatter",
    "lerp",
    "manifold_grid",
    "picture_png",
    "quantile_grid",
    "read_metrics",
    "reconstruction_grid",
    "sample_grid",
    "save_grid",
    "slerp",
    "training_curves",
    "traversal_figure",
    "traversal_rows",
    "write_report",
    "write_run_pictures",
]
