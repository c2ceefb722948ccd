"""Training runs unchanged under torchrun: 2 CPU processes (gloo) give the single-process result."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from cacscore.regress.dataset import TensorScans
from cacscore.regress.models import build_model
from cacscore.regress.train import TrainConfig, fit, seeded

SCRIPT = textwrap.dedent('''
    import json
    import sys
    import numpy as np
    import torch
    import torch.distributed as dist
    from safetensors.torch import save_file
    from cacscore.regress.dataset import TensorScans
    from cacscore.regress.models import build_model
    from cacscore.regress.train import TrainConfig, fit, seeded

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4, 32, 32)), rng.uniform(size=(16, 4))
    with seeded(0):
        model = build_model("vit", in_channels=4, image_size=32, dim=32, mlp_dim=64)
    res = fit(model, TensorScans(x[:12], y[:12]), TensorScans(x[12:], y[12:]),
              config=TrainConfig(batch_size=4, lr=1e-3, max_epochs=3, seed=7), run_dir=sys.argv[1] + "/ckpt",
              progress=False)
    if dist.get_rank() == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, sys.argv[1] + "/ddp.safetensors",
                  metadata={"val": json.dumps([h["val_loss"] for h in res.history])})
    dist.destroy_process_group()
''')


def test_torchrun_two_processes_matches_single_process(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = load_file(str(tmp_path / "ddp.safetensors"))
    assert (tmp_path / "ckpt" / "checkpoint.safetensors").is_file()

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4, 32, 32)), rng.uniform(size=(16, 4))
    with seeded(0):
        model = build_model("vit", in_channels=4, image_size=32, dim=32, mlp_dim=64)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    res = fit(model, TensorScans(x[:12], y[:12]), TensorScans(x[12:], y[12:]),
              config=TrainConfig(batch_size=4, lr=1e-3, max_epochs=3, seed=7), progress=False)
    with safe_open(str(tmp_path / "ddp.safetensors"), "pt") as f:
        ddp_val = json.loads(f.metadata()["val"])
    np.testing.assert_allclose(ddp_val, [h["val_loss"] for h in res.history], rtol=1e-4)
    assert set(ddp) == set(model.state_dict())
    # Same batches and averaged gradients, so equal up to float summation order; AdamW divides by sqrt(v), which
    # magnifies that rounding noise in parameters whose true gradient is ~0 (attention key biases): ~4e-4 there.
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-3, atol=1e-3, msg=k)
    assert any(not torch.equal(init[k], v) for k, v in model.state_dict().items())  # it did train


def test_cli_reproduce_under_torchrun_joins_the_process_group(tmp_path):
    """`torchrun --nproc-per-node 2 -m cacscore.cli reproduce ...` trains with DDP (one process group, rank 0
    writes), not as two independent runs over the same files."""
    from test_reproduce import write_cache

    write_cache(tmp_path / "cache", n=20)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"batch_size": [4], "lr": [1e-3], "weight_decay": [1e-4], "max_epochs": 1,
                                "patience": 1}))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "cacscore.cli", "reproduce", str(tmp_path / "cache"), str(tmp_path / "out"),
                           "--models", "cnn", "--grid", str(grid), "--device", "cpu"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = json.loads((tmp_path / "out" / "reproduce_config.json").read_text())
    assert cfg["world_size"] == 2 and cfg["trainer"] == "reference"
    assert (tmp_path / "out" / "table1.csv").is_file()
    assert proc.stdout.count("table1.csv:") == 1  # only rank 0 reports
