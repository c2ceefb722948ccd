"""Each model's MLP calls (no anatomy rules) on the coronary training candidates of cached phantom sets: the share of
each vessel's candidate AU called that vessel, another vessel or non-coronary (session 15, wt23a: are the v12-trained
models conservative everywhere, or only on real anatomy?). Candidates cached by bench/v11_fold.py extract.

    PYTHONPATH=src python bench/cross_cache_calls.py --cache v11=DIR v12=DIR --model v11ring_s0=DIR v12ring_s0=DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.lesion.candidates import CLASS_NAMES, FEATURE_NAMES
from cacscore.lesion.classifier import load_model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", nargs="+", required=True)
    ap.add_argument("--model", nargs="+", required=True)
    a = ap.parse_args(argv)
    j = FEATURE_NAMES.index("log_agatston")
    rows = []
    for cs in a.cache:
        cname, cdir = cs.split("=", 1)
        feats, targets = [], []
        for f in sorted(Path(cdir).glob("*.npz")):
            z = np.load(f)
            keep = z["targets"] > 0
            feats.append(z["features"][keep])
            targets.append(z["targets"][keep])
        x, t = np.concatenate(feats), np.concatenate(targets)
        au = np.expm1(x[:, j])
        for ms in a.model:
            mname, mdir = ms.split("=", 1)
            m = load_model(mdir)
            pred = m.predict(m.table(x))
            for v in range(1, 5):
                sel = t == v
                tot = au[sel].sum()
                rows.append({"cache": cname, "model": mname, "truth": CLASS_NAMES[v], "n": int(sel.sum()), "AU": round(tot),
                             **{f"->{CLASS_NAMES[c]}": round(au[sel & (pred == c)].sum() / max(tot, 1e-9), 2) for c in range(5)}})
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
