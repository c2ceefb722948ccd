"""ratio4 / kappa4 (total, per vessel) table of /work/runs/wt27a/E<SEED>/eval_<row>_lm and the patients each row
changes against the shipped row (session 19, wt27a).
    python bench/mac_lumen_eval_table.py SEED ...
"""
import os
import sys

import pandas as pd
sets=sys.argv[1:]
for s in sets:
    d=f'/work/runs/wt27a/E{s}'
    if not os.path.exists(d+'/eval.csv'): continue
    print(f'## {s}')
    print('| row | ratio4 | kappa4 total [95% CI] | kappa4 LCA / LAD / LCX / RCA | ratio LCA / LAD / LCX / RCA |')
    for r in [x for x in ('shipped','ring','hu20','cand','cand29') if os.path.exists(f'{d}/eval_{x}_lm')]:
        m=pd.read_csv(f'{d}/eval_{r}_lm/metrics.csv')
        g=lambda v,k: m[(m.vessel==v)&(m.metric==k)].iloc[0]
        a4=g('all4','mse_norm'); kt=g('total','kappa4')
        kv=' / '.join(f"{g(v,'kappa4').value:.3f}" for v in ('LCA','LAD','LCX','RCA'))
        rv=' / '.join(f"{g(v,'mse_norm').baseline/g(v,'mse_norm').value:.2f}" for v in ('LCA','LAD','LCX','RCA'))
        print(f"| {r} | {a4.baseline/a4.value:.2f} | {kt.value:.3f} [{kt.ci_low:.3f}, {kt.ci_high:.3f}] | {kv} | {rv} |")
    P={r:pd.read_csv(f'{d}/pred_{r}_lm.csv').set_index('id') for r in ('shipped','ring','hu20','cand','cand29') if os.path.exists(f'{d}/pred_{r}_lm.csv')}
    T=pd.read_csv(f'{d}/truth.csv').set_index('id')
    for r in [x for x in P if x!='shipped']:
        diff=(P[r]-P['shipped']).abs().sum(1); ch=diff[diff>0.01].index.tolist()
        print(r,'changed patients:', ', '.join(f"{i} (tot {P['shipped'].loc[i,'total']:.0f}->{P[r].loc[i,'total']:.0f}, true {T.loc[i,'total']:.0f})" for i in ch))
