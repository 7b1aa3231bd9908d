"""The autoencoder's and the conditional VAE's diagrams compile as TikZ and as Typst (slow: they
need pdflatex and the typst package, which `make test-slow` installs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vaekit.viz.diagram import architecture_from_config, diagram_source

from .helpers import bound_config

FAMILIES = {"ae": {"model": "ae"}, "cvae": {"model": "cvae"}, "cvae-conv": {"model": "cvae", "net": "conv"}}

TYPST_COMPILE = """
import sys, typst
typst.compile(sys.argv[1], output=sys.argv[2], format="png", ppi=72)
"""


def sources(fmt: str) -> dict[str, str]:
    """Each family's diagram in ``fmt``."""
    return {
        name: diagram_source(architecture_from_config(bound_config(encoder=[6, 4], latent_dim=3, **options)), fmt)
        for name, options in FAMILIES.items()
    }


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (make test-slow installs it)")
def test_tikz_of_the_code_and_the_condition_compiles_with_pdflatex(tmp_path):
    for name, tex in sources("tikz").items():
        (tmp_path / f"{name}.tex").write_text(tex)
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-2000:]
        assert f"Output written on {name}.pdf (1 page" in result.stdout


@pytest.mark.slow
def test_typst_of_the_code_and_the_condition_compiles_against_a_cetz_stand_in(tmp_path):
    pytest.importorskip("typst")
    from vaekit.viz.diagram.typst import CETZ_VERSION

    package = tmp_path / "cache" / "typst" / "packages" / "preview" / "cetz" / CETZ_VERSION
    shutil.copytree(Path(__file__).parents[1] / "cetz_stub", package)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name, typ in sources("typst").items():
        source = tmp_path / f"{name}.typ"
        source.write_text(typ)
        result = subprocess.run(
            [sys.executable, "-c", TYPST_COMPILE, str(source), str(tmp_path / f"{name}.png")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
