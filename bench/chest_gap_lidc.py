"""read_chest on the three LIDC series with RootOptions(desc_up_gap=3) (session 15) and 5 (session 16): identical?

    PYTHONPATH=src nice -n 10 python bench/chest_gap_lidc.py
"""
from dataclasses import replace
import numpy as np
from cacscore.chest.anatomy import read_chest, RootOptions
from cacscore.io.ct import read_ct
for s in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
    v = read_ct(f"/work/shared/data/{s}")
    hu, sp = v.hu, v.spacing_mm
    a3 = read_chest(hu, sp, root_options=replace(RootOptions(), desc_up_gap=3))
    a5 = read_chest(hu, sp, root_options=replace(RootOptions(), desc_up_gap=5))
    same = all(np.array_equal(getattr(a3, f), getattr(a5, f)) for f in ("pericardium",)) and np.allclose(a3.aortic_root_mm, a5.aortic_root_mm, equal_nan=True) and np.array_equal(a3.aorta.centreline_mm, a5.aorta.centreline_mm)
    print(s, "identical" if same else "DIFFERENT", "root", np.round(a3.aortic_root_mm), np.round(a5.aortic_root_mm), "desc n", (a3.aorta.segment == 2).sum(), (a5.aorta.segment == 2).sum())
