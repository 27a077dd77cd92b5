"""Train a bundled Fashion-MNIST preset for N steps with the genlab source tree SRC and print a SHA-256 of
the final weights (and EMA weights): two source trees that print the same hash train bit-identically.

    git worktree add /tmp/old <commit>
    python scripts/same_weights.py /tmp/old/src 60 dcgan     # the make-demo preset
    python scripts/same_weights.py src 60 dcgan
Used to show that the data-contract redesign left the demo's training unchanged (docs/benchmarks.md).
"""
import hashlib, sys, tempfile
from pathlib import Path
src, steps = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, src)
import torch
import genlab.components  # noqa
from genlab.config import read_yaml, resolve
from genlab.data import load_dataset
from genlab.runs import build_model
from genlab.training import Trainer
name = sys.argv[3] if len(sys.argv) > 3 else "dcgan"
preset = read_yaml(Path(src) / f"genlab/configs/{name}-fashion-mnist.yaml")
cfg = resolve(name, [preset, {"train": {"steps": steps, "threads": 1, "progress": False, "log_every": 10**6,
                                           "ckpt_every": 10**6, "sample_every": 0}}])
data = load_dataset(cfg.data.name, cfg.data.split, **cfg.data.options())
model = build_model(cfg, data.info)
tr = Trainer(model, cfg.train, data, None)
tr.fit()
h = hashlib.sha256()
for k, v in sorted(tr.model_state().items()):
    h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
for n in sorted(tr.ema.shadow if tr.ema else {}):
    for k, v in sorted(tr.ema.shadow[n].items()):
        h.update(v.cpu().contiguous().numpy().tobytes())
print(src, steps, cfg.train.precision, h.hexdigest())
