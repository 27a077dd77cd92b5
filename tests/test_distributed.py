"""Two gloo processes under torchrun: ranks stay bit-identical and only rank 0 writes files."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_two_process_gloo_ranks_identical_and_rank0_writes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(ROOT / "tests" / "ddp_worker.py"), str(run)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = "".join((tmp_path / f"rank{r}.txt").read_text() for r in range(2))
    lines = re.findall(r"RANK (\d) WORLD (\d) LOCALBATCH (\d+) HASH (\w+)", text)
    assert sorted(r for r, *_ in lines) == ["0", "1"]
    assert all(w == "2" and lb == "8" for _, w, lb, _ in lines)  # global batch 16 split over 2 ranks
    assert lines[0][3] == lines[1][3], "ranks diverged"
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # one writer: no duplicated lines
    ck = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ck == ["latest.json", "step-00000002", "step-00000004"]
    # the checkpoint holds one noise stream per rank
    import torch
    st = torch.load(run / "checkpoints" / "step-00000004" / "training_state.pt", weights_only=True)
    assert st["noise"].shape[0] == 2 and not torch.equal(st["noise"][0], st["noise"][1])
