"""Splice bench/mac_structure_veto.py "on" predictions of a few patients into the shipped 60-patient predictions of
/work/runs/wt27a/E<SEED> (checks its "off" rows equal them) and run cacscore evaluate (session 19, wt27a).
    python bench/mac_lumen_splice.py SEED MDIR NAME
"""
import subprocess
import sys

import pandas as pd
s, mdir, name = sys.argv[1], sys.argv[2], sys.argv[3]
E=f'/work/runs/wt27a/E{s}'
base=pd.read_csv(f'{E}/pred_shipped_lm.csv').set_index('id')
off=pd.read_csv(f'{mdir}/pred_off.csv').set_index('id'); on=pd.read_csv(f'{mdir}/pred_on.csv').set_index('id')
d=(off-base.loc[off.index]).abs().max().max(); print('max |bench off - shipped_lm|', d)
new=base.copy(); new.loc[on.index]=on
new.reset_index().to_csv(f'{E}/pred_{name}_lm.csv',index=False)
subprocess.run([sys.executable,'-m','cacscore.cli','evaluate',f'{E}/pred_{name}_lm.csv',f'{E}/truth.csv','--out',f'{E}/eval_{name}_lm','--bootstrap','1000','--seed','0'],check=True,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
print('ok')
