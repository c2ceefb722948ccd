"""Pool workers (cacscore.core.parallel.map_jobs) run torch with one thread, without importing torch when the
parent has not: the candidate scorer's workers never need it (a second of CPU each)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from cacscore.core.parallel import map_jobs

def probe(_):
    had = "torch" in sys.modules
    import torch
    return had, torch.get_num_threads()

if {parent_torch}:
    import torch
    torch.set_num_threads(2)
print(map_jobs(probe, [0, 1], 2, "probe", False))
"""


def test_pool_workers_get_one_torch_thread_and_import_it_only_when_needed():
    for parent_torch, imported in ((False, False), (True, True)):
        out = subprocess.run([sys.executable, "-c", CODE.format(parent_torch=parent_torch)], capture_output=True,
                             text=True, timeout=120)
        # its stderr in the message: it exited 1 once on a loaded machine (session 22's CI), with nothing to read
        assert out.returncode == 0, (parent_torch, out.returncode, out.stderr[-2000:])
        assert out.stdout.strip() == str([(imported, 1)] * 2), (parent_torch, out.stdout, out.stderr[-500:])
