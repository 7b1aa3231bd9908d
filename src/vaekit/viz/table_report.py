"""A table run's quality report in words and pictures: the text ``vaekit evaluate`` prints and
the two figures it writes beside ``eval-table.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the pictures of a table's quality report, by file name
COLUMNS_PICTURE = "table-columns.png"
CORRELATIONS_PICTURE = "table-correlations.png"


def write_table_pictures(run_dir: str | Path | None, result: Any, *, own_data: bool = True) -> list[Path]:
    """Write the per-column real-vs-synthetic comparison and the two correlation matrices of a
    ``vaekit.tables.TableEvaluation`` into ``run_dir`` (``-other`` in their names for other data
    than the run's own, as its report is named); returns the paths written."""
    from vaekit.viz.plots import save_picture
    from vaekit.viz.table_pictures import column_comparison_figure, correlation_figure

    if run_dir is None:
        return []
    written = []
    for name, draw in ((COLUMNS_PICTURE, column_comparison_figure), (CORRELATIONS_PICTURE, correlation_figure)):
        path = Path(run_dir) / (name if own_data else name.replace(".png", "-other.png"))
        save_picture(draw(result.holdout, result.synthetic, result.kinds), path)
        written.append(path)
    return written


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_table_report(report: dict[str, Any]) -> str:
    """Return the quality report of a table run as lines of text: the headline scores with what
    each means, then the five weakest columns."""
    q, det, eff, priv = report["quality"], report["detection"], report["ml_efficacy"], report["privacy"]
    ll = report.get("heldout_log_likelihood")
    rows = report["rows"]
    lines = [
        f"{report['data']}: {rows['synthetic']} synthetic rows against {rows['holdout']} held-out real rows",
        f"quality score          {_number(q['score'])}  (column shapes {_number(q['column_shapes'])}, pair trends "
        f"{_number(q['pair_trends'])}; real-vs-real ceiling {_number(q['reference_score'])}; 1 = identical)",
        f"detection AUC          {_number(det.get('auc'))}  (a classifier telling real from synthetic; 0.5 = "
        "indistinguishable)",
    ]
    if eff.get("target") is not None:
        metric = "accuracy" if eff["task"] == "classification" else "r2"
        real, synth = (eff.get("real") or {}).get(metric), (eff.get("synthetic") or {}).get(metric)
        lines.append(
            f"ML efficacy            {metric} predicting {eff['target']!r}: trained on synthetic {_number(synth)}, "
            f"on real {_number(real)} (tested on held-out rows)"
        )
    s, h = priv.get("synthetic") or {}, priv.get("holdout") or {}
    copies = (priv.get("exact_copies") or {}).get("synthetic")
    lines.append(
        f"closest training row   median distance: synthetic {_number(s.get('median'))}, held-out real "
        f"{_number(h.get('median'))}; exact copies {'n/a' if copies is None else f'{copies:.1%}'}"
    )
    if ll is not None:
        stderr = "" if ll.get("stderr") is None else f" ± {ll['stderr']:.3f}"
        lines.append(
            f"held-out NLL           {ll['nll']:.3f}{stderr} nats per row (K={ll['k']}; -log p(row) in the data's "
            "units, missing cells' values left out; lower is better)"
        )
    shapes = {name: detail["score"] for name, detail in report["column_shapes"].items() if detail["score"] is not None}
    weakest = sorted(shapes.items(), key=lambda item: item[1])[:5]
    if weakest:
        lines.append("weakest columns        " + ", ".join(f"{name} {score:.3f}" for name, score in weakest))
    return "\n".join(lines)
