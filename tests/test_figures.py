"""reproduce's figures: fig2's log axis is readable, fig3 shows a slice through the heart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cacscore.phantom import make_patient
from cacscore.regress.figures import heart_region, plot_loss_curves, saliency_slice


def test_fig2_log_axis_labels_a_loss_that_spans_less_than_a_decade(tmp_path):
    import matplotlib.pyplot as plt

    shown = {}
    real_close = plt.close

    def keep(fig=None):  # read the tick labels before _save closes the figure
        if fig is not None and hasattr(fig, "axes"):
            ax = fig.axes[0]
            lo, hi = ax.get_ylim()
            shown["labels"] = [t.get_text() for t in ax.get_yticklabels()
                               if t.get_text() and lo <= t.get_position()[1] <= hi]
        real_close(fig)

    plt.close = keep
    try:
        curve = np.linspace(0.05, 0.012, 12)[None].repeat(3, 0)  # 3 folds, 12 epochs, 0.012-0.05
        plot_loss_curves({"cnn": {"train": curve, "val": curve * 1.1}}, tmp_path / "fig2.png", labels={})
    finally:
        plt.close = real_close
    assert (tmp_path / "fig2.png").is_file()
    assert len(shown["labels"]) >= 2, shown  # 0.02 and 0.05 (the default log axis labelled at most one)


def test_fig3_slice_is_chosen_inside_the_heart_region():
    p = make_patient(4, seed=3, size=64)
    hu = p.hu.astype(np.int16)
    sp = tuple(abs(float(v)) for v in p.spacing_mm)
    region = heart_region(hu, sp)
    assert region is not None and region.any() and not region.all()
    hz = int(np.nonzero(region.any(axis=(1, 2)))[0].mean())
    sal = np.zeros(hu.shape, np.float32)
    sal[hz, region[hz]] = 1.0  # a little saliency at the heart
    top = hu.shape[0] - 1
    assert not region[top].any()  # the top slice is above the heart region
    sal[top] = 5.0  # much more saliency above the heart (what fig3 showed: slice 65 of 73)
    assert saliency_slice(sal, hu, None) == top
    assert saliency_slice(sal, hu, region) == hz
    assert heart_region(hu, None) is None


def test_scatter_counts_the_scans_at_zero(tmp_path, monkeypatch):
    import pandas as pd

    import cacscore.evaluation.evaluate as E

    ids = [str(i) for i in range(6)]
    truth = pd.DataFrame({"id": ids, "LCA": [0, 0, 0, 0, 5, 50], "LAD": [0, 0, 0, 3, 0, 20],
                          "LCX": [0] * 6, "RCA": [0, 0, 0, 0, 0, 9]})
    pred = truth.copy()
    pred.loc[3, "LAD"] = 0  # a miss: on the x axis, not at (0, 0)
    truth.to_csv(tmp_path / "t.csv", index=False)
    pred.to_csv(tmp_path / "p.csv", index=False)
    texts: dict[str, list[str]] = {}
    real = E.atomic_savefig

    def record(fig, path, **kw):
        texts[Path(path).name] = [t.get_text() for ax in fig.axes for t in ax.texts]
        return real(fig, path, **kw)

    monkeypatch.setattr(E, "atomic_savefig", record)
    E.run_evaluate(tmp_path / "p.csv", tmp_path / "t.csv", out_dir=tmp_path / "ev", n_boot=0)
    # LCA: 4 scans at (0, 0); LAD: 4 (ids 0, 1, 2, 4); LCX: all 6; RCA: 5; total: 3 (ids 0, 1, 2; id 3 is a miss)
    assert texts["scatter.png"] == ["4 scans at (0, 0)", "4 scans at (0, 0)", "6 scans at (0, 0)",
                                    "5 scans at (0, 0)", "3 scans at (0, 0)"]
