"""Run under torchrun by test_distributed.py: trains a tiny VAE with DDP (gloo), then prints a hash of
this rank's weights into a file so the test can check that every rank holds the same model."""
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import tiny_trainer  # noqa: E402

from genlab.training import distributed  # noqa: E402

run_dir = Path(sys.argv[1])
rank = int(os.environ["RANK"])
tr = tiny_trainer("vae", run_dir=run_dir, steps=4, train={"ckpt_every": 2, "batch_size": 16})
tr.fit()
h = hashlib.sha256()
for k, v in sorted(tr.model_state().items()):
    h.update(k.encode())
    h.update(v.detach().cpu().contiguous().numpy().tobytes())
# one file per rank (stdout of two workers through torchrun can interleave)
(run_dir.parent / f"rank{rank}.txt").write_text(
    f"RANK {rank} WORLD {tr.dist.world_size} LOCALBATCH {tr.batcher.global_batch // tr.dist.world_size} "
    f"HASH {h.hexdigest()}\n")
distributed.shutdown(tr.dist)  # barrier, then destroy the group
