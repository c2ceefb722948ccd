"""Markdown table of bench/learnability.py results: ``python bench/learnability_table.py RESULTS.jsonl``."""

import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
sys.stdout.write("| run | size | centre | input | target | lr | bs | wd | shift | epochs run (best) | train MSE at best "
                 "| val MSE | test MSE | const-mean test MSE | ratio | Spearman total | κ4 total | CPU s |\n")
sys.stdout.write("|" + " --- |" * 18 + "\n")
for r in rows:
    inp = "scan z-score" if r["norm"] == "scan" else f"window [{r['window'][0]:g}, {r['window'][1]:g}]"
    sys.stdout.write(
        f"| {r['name']} | {r['size']} | {r['centre']} | {inp} | {r['target']} | {r['lr']:g} | {r['bs']} | {r['wd']:g} | "
        f"{r['shift']} | {r['epochs_run']} ({r['best_epoch']}) | {r['train_mse_at_best']:.4f} | {r['val_mse']:.4f} | "
        f"{r['test_mse']:.4f} | {r['baseline_mse']:.4f} | {r['ratio']:.2f} | {r['spearman_total']:.2f} | "
        f"{r['kappa4_total']:.2f} | {r['cpu_s']:.0f} |\n")
