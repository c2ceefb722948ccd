"""Training-step time per scan of the paper's models on the CPU: float32 (the baseline, what `reproduce` does
without --bf16) against channels_last and bf16 autocast + channels_last (`reproduce --bf16`), same run, same
random batch. Prints ms per scan and the speed-up over float32 per model.

    .venv/bin/python bench/cpu_bf16.py [--size 256] [--batch 16] [--steps 3] [--threads 2] [--models cnn,se_cnn,vit]

bf16 pays off only on CPUs with native bf16 arithmetic (AVX512-BF16, AMX); the script prints whether the CPU
flags say so.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from cacscore.regress.models import build_model


def step_ms(name: str, mode: str, size: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    m = build_model(name, in_channels=73, image_size=size)
    x, y = torch.randn(batch, 73, size, size), torch.randn(batch, 4)
    if mode != "fp32":
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(m.parameters(), 1e-3)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16+channels_last"):
            out = m(x)
        loss = torch.nn.functional.mse_loss(out.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up (oneDNN primitive creation)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps / batch * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="cnn,se_cnn,vit")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").is_file() else []
    native = sorted({f for f in flags if f in ("avx512_bf16", "amx_bf16")})
    print(f"torch {torch.__version__}, {a.threads} thread(s), native bf16: {', '.join(native) or 'no'}; "
          f"73 x {a.size} x {a.size}, batch {a.batch}")
    print(f"{'model':8s} {'fp32 (baseline)':>16s} {'channels_last':>14s} {'bf16+CL':>9s} {'speed-up bf16+CL':>17s}")
    for name in a.models.split(","):
        t = {mode: step_ms(name, mode, a.size, a.batch, a.steps)
             for mode in ("fp32", "channels_last", "bf16+channels_last")}
        print(f"{name:8s} {t['fp32']:13.1f} ms {t['channels_last']:11.1f} ms {t['bf16+channels_last']:6.1f} ms "
              f"{t['fp32'] / t['bf16+channels_last']:16.2f}x")


if __name__ == "__main__":
    main()
