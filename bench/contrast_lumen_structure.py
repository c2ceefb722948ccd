"""Contrast lumen vs calcium, second look: the size of the 3-D structure (cand.structure: 26-connected candidate
voxels) of each coronary call of the shipped model on the contrast LIDC series and on their hybrids, with its peak HU
and the scan's aortic lumen level (bench/contrast_lumen_calls.lumen_hu). Pre-registered check (docs/lesion_scorer.md,
"Contrast lumen called calcium"): rule R = lumen > 200 HU and peak <= lumen and structure >= 60 mm^3.

    PYTHONPATH=src:bench python bench/contrast_lumen_structure.py [--seeds 0 1 2] [--native] --out CSV
"""
import argparse
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pathlib import Path
import numpy as np, pandas as pd
from scipy import ndimage
from hybrid_cases import series_landmarks
from contrast_lumen_calls import lumen_hu
from cacscore.io.ct import read_ct
from cacscore.chest.anatomy import read_chest
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.predict.predictors import DEFAULT_MODEL
from cacscore.phantom.hybrid import insert_plaques
model = load_model(DEFAULT_MODEL)
LM = Path(__file__).resolve().parents[1] / 'docs' / 'hybrid_landmarks.json'
ap = argparse.ArgumentParser()
ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
ap.add_argument('--native', action='store_true')
ap.add_argument('--out', type=Path, required=True)
a = ap.parse_args()
rows = []
for name in ['lidc-idri-0001', 'lidc-idri-0003']:
    vol = read_ct(f'/work/shared/data/{name}'); sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    anat = read_chest(vol.hu, sp)
    blood = lumen_hu(vol.hu, sp, anat)
    for seed in ([-1] if a.native else []) + a.seeds:
        if seed < 0:
            hu, lab = vol.hu, np.zeros(vol.hu.shape, np.uint8)
        else:
            case = insert_plaques(vol.hu, sp, anat, seed, motion=True, landmarks=series_landmarks(LM, name))
            hu, lab = case.hu, case.labels
        cand, cls = classify_volume(hu, sp, model)
        vox = np.prod(sp)
        counts = np.bincount(cand.ids.ravel(), minlength=cand.n + 1)[1:]
        svol = pd.Series(counts).groupby(cand.structure).sum() * vox
        # the 3-D component of hu >= 130 containing each candidate (26-connected), in mm^3
        comp, _ = ndimage.label(hu >= 130, np.ones((3, 3, 3)))
        csize = np.bincount(comp.ravel()) * vox
        for k in np.flatnonzero(cls > 0):
            m = cand.ids == k + 1
            c = np.bincount(comp[m]).argmax()
            rows.append(dict(series=name, seed=seed, au=float(cand.agatston[k]), cls=int(cls[k]),
                             inserted=bool((lab[m] > 0).any()), peak=float(hu[m].max()), blood=blood,
                             struct_mm3=float(svol[cand.structure[k]]), comp130_mm3=float(csize[c])))
        print(name, seed, flush=True)
df = pd.DataFrame(rows)
df.to_csv(a.out, index=False)
df['rule_R'] = (df.blood > 200) & (df.peak <= df.blood) & (df.struct_mm3 >= 60)
print(df[(df.seed < 0) | df.inserted].sort_values(['series', 'inserted', 'au']).round(1).to_string(index=False))
print('rule R takes: native calls', df.loc[(df.seed < 0) & df.rule_R, 'au'].sum().round(1), 'of', df.loc[df.seed < 0, 'au'].sum().round(1),
      '| inserted found', df.loc[df.inserted & df.rule_R, 'au'].sum().round(1), 'of', df.loc[df.inserted, 'au'].sum().round(1))
