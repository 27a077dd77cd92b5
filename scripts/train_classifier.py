"""Train the domain classifiers behind the `fmnist-classifier` / `digits-classifier` extractors.

    .venv/bin/python scripts/train_classifier.py fashion-mnist   # -> src/genlab/weights/fmnist_classifier.safetensors
    .venv/bin/python scripts/train_classifier.py digits          # -> src/genlab/weights/digits_classifier.safetensors

Deterministic given the seed (2 threads, CPU): AdamW + one-cycle LR, bf16 autocast, random 1-pixel
shifts as augmentation. Prints the test accuracy and the SHA-256 to pin in
src/genlab/metrics/extractors/classifier.py (SPECS).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genlab.data import load_dataset  # noqa: E402
from genlab.metrics.extractors.classifier import SPECS, ClassifierNet  # noqa: E402

SETUPS = {"fashion-mnist": ("fmnist-classifier", 12, 256, 4e-3), "digits": ("digits-classifier", 15, 32, 3e-3)}


def shift(x: torch.Tensor, g: torch.Generator, pad: int = 1) -> torch.Tensor:
    """Random translation by up to `pad` pixels (zero fill)."""
    b, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))  # (B, 1, H+2p, W+2p)
    dy, dx = torch.randint(0, 2 * pad + 1, (2,), generator=g).tolist()
    return xp[:, :, dy:dy + h, dx:dx + w]


def accuracy(net: ClassifierNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=list(SETUPS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default=None, help="output file (default: the committed weights path)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    name, epochs, bs, lr = SETUPS[args.dataset]
    epochs = args.epochs or epochs
    spec = SPECS[name]
    train, test = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    x, y = train.all(), train.y
    xt, yt = test.all(), test.y
    torch.manual_seed(args.seed)
    net = ClassifierNet(size=spec.size, widths=spec.widths).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * (len(x) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(len(x) // bs):
            idx = perm[i * bs:(i + 1) * bs]
            xb = shift(x[idx], g).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(net(xb).float(), y[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if (i + 1) % 100 == 0:
                print(f"  step {i + 1}/{len(x) // bs} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)
        print(f"epoch {ep + 1}/{epochs}: loss {loss.item():.3f} test acc {accuracy(net, xt, yt):.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)
    from safetensors.torch import save_file

    out = Path(args.out) if args.out else ROOT / "src/genlab/weights" / spec.file
    sd = {k: v.detach().contiguous() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(sd, str(out))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"test accuracy {accuracy(net, xt, yt):.4f}; wrote {out} ({out.stat().st_size} bytes) sha256 {digest}")


if __name__ == "__main__":
    main()
