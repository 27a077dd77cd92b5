"""The one trainer (DESIGN §2). It runs any GenerativeModel through its phases and never branches on
the model's type or name: the model says what each update computes, the trainer decides how (device,
bf16 autocast, DDP, EMA, clipping, freezing the other groups, logging, checkpoints, signals)."""
from __future__ import annotations

import contextlib
import math
import signal
import time
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from ..config import TrainConfig
from ..data.base import FieldDataset
from ..errors import GenlabError
from ..models.base import GenerativeModel, Phase
from . import checkpoint as ckpt
from . import optim
from . import distributed as dist
from .ema import EMA
from .logger import RunLogger, flat_hparams
from .precision import MEASURE, autocast, choose, measure_step, pick_device, resolve_precision


class TrainingInterrupted(Exception):
    """Raised after a SIGINT/SIGTERM checkpoint was saved; carries the signal number and step."""

    def __init__(self, signum: int, step: int, run_dir: Optional[Path]):
        super().__init__(f"interrupted by signal {signum} at step {step}")
        self.signum, self.step, self.run_dir = signum, step, run_dir


def check_group_lr(group_lr: dict | None, groups) -> None:
    """Every name in train.group_lr must be one of the model's optimiser groups."""
    unknown = sorted(set(group_lr or {}) - set(groups))
    if unknown:
        raise GenlabError(f"train.group_lr names group(s) {unknown}; this model's groups are {sorted(groups)}")


def preflight(model: GenerativeModel, cfg: TrainConfig, data, *, world_size: int = 1) -> None:
    """The checks the Trainer would make at start-up, made before a run directory exists."""
    from ..registry import OPTIMIZERS

    OPTIMIZERS.entry(cfg.optimizer)
    check_group_lr(cfg.group_lr, model.param_groups())
    names = list(model.networks())
    unknown = [n for n in (cfg.ema_networks or ()) if n not in names]
    if unknown:
        raise GenlabError(f"train.ema_networks names {unknown}, but this model's networks are {names}")
    data.batcher(cfg.batch_size, seed=cfg.seed, world_size=world_size)  # batch size vs data size
    if cfg.accumulate > 1 and (cfg.batch_size // world_size) % cfg.accumulate:
        raise GenlabError(f"train.accumulate={cfg.accumulate} must divide the per-process batch "
                          f"{cfg.batch_size // world_size}; choose a divisor")


_PICKED: dict = {}  # train.precision=auto, measured: (model, config, shapes, threads) -> (precision, why)


class Trainer:
    """Train `model` on `data` for `cfg.steps` steps, writing into `run_dir` (rank 0 only).

    callbacks: `fn(trainer, step)` called after each step (step = steps completed), for tests and tools.
    """

    def __init__(self, model: GenerativeModel, cfg: TrainConfig, data: FieldDataset,
                 run_dir: Optional[Path] = None, *, resume: bool = False,
                 callbacks: tuple[Callable, ...] = (), real_preview: Optional[torch.Tensor] = None):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.cfg, self.data, self.run_dir, self.callbacks = cfg, data, run_dir, callbacks
        self.device = pick_device(cfg.device, int(__import__("os").environ.get("LOCAL_RANK", "0")))
        self.dist = dist.init(self.device.type)
        self.is_main = self.dist.is_main
        self.precision = resolve_precision(cfg.precision, self.device)
        self.precision_why = ("asked for" if cfg.precision != "auto" else
                              "auto, from the hardware" if self.precision != MEASURE else "auto")
        self.precision_times: dict[str, float] = {}  # fp32/bf16 seconds of one step, when auto measured
        self.model = model.to(self.device)
        self.raw = dict(model.networks())  # name -> plain module (before DDP/compile wrappers)
        if cfg.channels_last and any(s.spatial for s in data.info.fields.values()):
            self.model.to(memory_format=torch.channels_last)
        self.groups = model.param_groups()
        self.group_nets = self._networks_per_group()
        # per group, once: the other groups' parameters (frozen during its phase) and networks
        ids = {g: {id(p) for p in ps} for g, ps in self.groups.items()}
        self._others = {g: [p for g2, ps2 in self.groups.items() if g2 != g for p in ps2 if id(p) not in ids[g]]
                        for g in self.groups}
        self._other_nets = {g: [n for n in self.raw if n not in self.group_nets[g]] for g in self.groups}
        self.optimizers = {g: self._optimizer(g, ps) for g, ps in self.groups.items()}
        ema_names = cfg.ema_networks or tuple(model.ema_default)
        unknown = [n for n in ema_names if n not in self.raw]
        if unknown:
            raise GenlabError(f"train.ema_networks names {unknown}, but this model's networks are "
                              f"{list(self.raw)}")
        self.ema = EMA({n: self.raw[n] for n in ema_names}, cfg.ema) if cfg.ema > 0 and ema_names else None
        for name, net in self.raw.items():  # wrappers replace the attributes the model calls
            wrapped = dist.wrap(net, self.dist, self.device)
            if cfg.compile:
                wrapped = torch.compile(wrapped)
            if wrapped is not net:
                setattr(self.model, name, wrapped)
        self.noise = torch.Generator(self.device).manual_seed(cfg.seed * 7919 + 1 + self.dist.rank)
        self.sample_gen_seed = cfg.seed + 12345
        self.batcher = data.batcher(cfg.batch_size, seed=cfg.seed, rank=self.dist.rank,
                                    world_size=self.dist.world_size, device=self.device)
        self.step = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.real_preview = real_preview
        if resume:
            self._load(ckpt.latest_checkpoint(run_dir) if run_dir else None)
            if run_dir is not None and self.is_main:
                ckpt.trim_metrics(run_dir / "metrics.jsonl", self.step)  # no repeated steps after a kill
        self.log = RunLogger(run_dir, total_steps=cfg.steps, enabled=self.is_main, progress=cfg.progress,
                             tensorboard=cfg.tensorboard, start_step=self.step,
                             hparams=flat_hparams(train=cfg, model=getattr(model, "config", None)))
        self._signal: Optional[int] = None

    # --- set-up -------------------------------------------------------------------------------
    def _optimizer(self, group: str, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        lr = self.cfg.group_lr.get(group, self.cfg.lr)
        return optim.build(self.cfg.optimizer, params, lr=lr, betas=self.cfg.betas,
                           weight_decay=self.cfg.weight_decay, device=self.device)

    def _networks_per_group(self) -> dict[str, set[str]]:
        owner = {id(p): name for name, net in self.raw.items() for p in net.parameters()}
        check_group_lr(self.cfg.group_lr, self.groups)
        return {g: {owner[id(p)] for p in ps if id(p) in owner} for g, ps in self.groups.items()}

    # --- one step -----------------------------------------------------------------------------
    def _run_phase(self, phase: Phase, batch) -> dict:
        opt = self.optimizers[phase.group]
        mine = self.groups[phase.group]
        frozen = [p for p in self._others[phase.group] if p.requires_grad]
        with contextlib.ExitStack() as stack:
            for name in self._other_nets[phase.group]:
                net = getattr(self.model, name)
                if hasattr(net, "no_sync"):
                    stack.enter_context(net.no_sync())  # frozen nets: no gradient all-reduce
            for p in frozen:
                p.requires_grad_(False)
            try:
                opt.zero_grad(set_to_none=True)
                out = self._accumulate(phase, batch)
            finally:
                for p in frozen:
                    p.requires_grad_(True)
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(mine, self.cfg.grad_clip)
        opt.step()
        return out

    def _accumulate(self, phase: Phase, batch) -> dict:
        """loss.backward() over `train.accumulate` micro-batches, each scaled by 1/k (gradient of the
        mean); DDP all-reduces only on the last one. Returns the logged terms averaged over them."""
        parts = batch.chunk(self.cfg.accumulate)
        k = len(parts)
        nets = [getattr(self.model, n) for n in self.group_nets[phase.group]]
        total: dict = {}
        for i, part in enumerate(parts):
            with contextlib.ExitStack() as stack:
                if i < k - 1:
                    for net in nets:
                        if hasattr(net, "no_sync"):
                            stack.enter_context(net.no_sync())
                with autocast(self.precision, self.device):
                    out = phase.loss(part)
                (out["loss"] / k if k > 1 else out["loss"]).backward()
            for key, v in out.items():
                v = v.detach()
                total[key] = total[key] + v / k if key in total else (v / k if k > 1 else v)
        return total

    def lr_factor(self, step: int) -> float:
        """Multiplier of every group's base lr at `step`: warm-up, then constant/linear/cosine decay to 0
        at the last step, starting at s0 = max(warmup, decay_start): factor 1 for warmup <= step < s0,
        linear 1 − t or cosine ½(1 + cos πt) with t = (step − s0) / (steps − s0) after (the paper's
        "constant for 100 epochs, then linear to 0 over 100" is lr_schedule=linear, decay_start=0.5)."""
        c = self.cfg
        if c.warmup and step < c.warmup:
            return (step + 1) / c.warmup
        start = max(c.warmup, c.decay_step())
        if step < start:
            return 1.0
        t = (step - start) / max(1, c.steps - start)
        if c.lr_schedule == "linear":
            return 1.0 - t
        if c.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * t))
        return 1.0

    def _set_lr(self) -> None:
        f = self.lr_factor(self.step) * self.lr_scale
        for g, opt in self.optimizers.items():
            for pg in opt.param_groups:
                pg["lr"] = self.cfg.group_lr.get(g, self.cfg.lr) * f

    def _next_batch(self):
        batch = self.batcher.next(self.noise)
        if self.cfg.channels_last:
            for name, v in list(batch.fields.items()):
                if v.dim() == 4 and v.is_floating_point():
                    batch.fields[name] = v.contiguous(memory_format=torch.channels_last)
        return batch

    def _train_step(self) -> dict[str, torch.Tensor]:
        if self.cfg.lr_schedule != "constant" or self.cfg.warmup or self.lr_scale != 1.0:  # decay_start: in lr_factor
            self._set_lr()
        batch = self._next_batch()
        logs: dict[str, torch.Tensor] = {}
        for phase in self.model.phases(self.step):
            if self.step % phase.every:
                continue
            out = self._run_phase(phase, batch)
            prefix = "" if len(self.groups) == 1 else f"{phase.group}/"
            for k, v in out.items():
                logs[prefix + k] = v.detach().float()
        for k, v in self.model.train_log().items():
            logs[k] = v.detach().float()
        if self.ema is not None:
            self.ema.update(self.step)
        return logs

    def _pick_precision(self) -> None:
        """train.precision=auto on a CPU with AVX-512 BF16 and no AMX (training/precision.py): time one step
        of a copy of the model on the first batch in fp32 and in bf16 and keep the faster. The copy, the
        restored data order, noise stream and global RNG leave the run exactly as it would be without it.
        One answer per model, data shapes and threads in a process (_PICKED)."""
        key = (type(self.model).__name__, repr(getattr(self.model, "config", None)), self.cfg.batch_size,
               self.cfg.accumulate, self.cfg.channels_last, torch.get_num_threads(),
               tuple((k, tuple(s.shape)) for k, s in sorted(self.data.info.fields.items())))
        if key not in _PICKED:
            if self.dist.enabled or self.cfg.compile:  # ranks must agree; compiling would dominate the timing
                _PICKED[key] = ("bf16", "AVX-512 BF16 without AMX; not measured under DDP or torch.compile")
            else:
                _PICKED[key] = self._measure_precision()
        self.precision, self.precision_why = _PICKED[key]
        self.log.message(f"train.precision=auto: {self.precision} ({self.precision_why})")

    def _measure_precision(self) -> tuple[str, str]:
        import copy

        try:
            probe = copy.deepcopy(self.model)
        except Exception as e:  # a model that cannot be copied keeps the hardware rule
            return "bf16", f"AVX-512 BF16 without AMX; not measured: the model cannot be copied ({type(e).__name__})"
        state, noise, rng = self.batcher.state_dict(), self.noise.get_state(), torch.get_rng_state()
        try:
            batch = self._next_batch()
            params = [p for p in probe.parameters() if p.requires_grad]

            def step(precision: str) -> None:
                for phase in probe.phases(0):
                    with autocast(precision, self.device):
                        out = phase.loss(batch)
                    out["loss"].backward()
                for p in params:
                    p.grad = None

            times = self.precision_times = measure_step(step)
        finally:
            self.batcher.load_state_dict(state)
            self.noise.set_state(noise)
            torch.set_rng_state(rng)
        return choose(times), (f"measured one step: fp32 {times['fp32']:.3g} s, bf16 {times['bf16']:.3g} s on "
                               "this CPU with AVX-512 BF16 and no AMX")

    # --- the loop -----------------------------------------------------------------------------
    def fit(self) -> Path | None:
        """Train to cfg.steps. Raises TrainingInterrupted after saving on SIGINT/SIGTERM."""
        self.model.train()
        if self.precision == MEASURE:
            self._pick_precision()
        if self.is_main and self.run_dir is not None:
            import json

            (self.run_dir / "precision.json").write_text(json.dumps(
                {"requested": self.cfg.precision, "used": self.precision, "why": self.precision_why}) + "\n")
        old = self._install_signals()
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        t0, last_t, last_step = time.perf_counter(), time.perf_counter(), self.step
        try:
            while self.step < self.cfg.steps:
                logs = self._train_step()
                self.step += 1
                for k, v in logs.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                    counts[k] = counts.get(k, 0) + 1
                    bad |= ~torch.isfinite(v)
                for cb in self.callbacks:
                    cb(self, self.step)
                at_log = self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps
                at_ckpt = self.step % self.cfg.ckpt_every == 0 or self.step == self.cfg.steps
                stop = dist.any_flag(self._signal is not None, self.dist, self.device)
                if at_log or at_ckpt or stop:
                    if bool(dist.any_flag(bool(bad), self.dist, self.device)):
                        self._diverged()
                        sums, counts, bad = {}, {}, torch.zeros_like(bad)
                        continue
                if at_log and sums:
                    now = time.perf_counter()
                    keys = list(sums)
                    vals = torch.stack([sums[k] / counts[k] for k in keys]).tolist()  # one sync
                    rate = (self.step - last_step) * self.cfg.batch_size / max(now - last_t, 1e-9)
                    self.log.log(self.step, {**dict(zip(keys, vals)), "samples_per_s": round(rate, 1),
                                             "time_s": round(now - t0, 2)})
                    sums, counts, last_t, last_step = {}, {}, now, self.step
                if self.cfg.sample_every and self.step % self.cfg.sample_every == 0:
                    self.save_samples()
                if at_ckpt or stop:
                    self.save()
                if stop:
                    raise TrainingInterrupted(self._signal or signal.SIGINT, self.step, self.run_dir)
            self.finish()
            return self.run_dir
        finally:
            self._restore_signals(old)
            self.log.close()

    def finish(self) -> None:
        """Final weights at the top of the run directory and a last sample grid."""
        if self.is_main and self.run_dir is not None:
            ckpt.atomic_save_safetensors(self.model_state(), self.run_dir / "model.safetensors")
            if self.ema is not None:
                ckpt.atomic_save_safetensors(self.ema.state_dict(), self.run_dir / "ema.safetensors")
            self.save_samples()
        dist.barrier(self.dist)

    # --- divergence guard ---------------------------------------------------------------------
    def _diverged(self) -> None:
        last = ckpt.latest_checkpoint(self.run_dir) if self.run_dir else None
        where = f"; the last good checkpoint (step {self._ckpt_step(last)}) is kept in {last}" if last else ""
        if self.cfg.on_nan == "rollback" and last is not None and self.rollbacks < 3:
            rollbacks, scale = self.rollbacks + 1, self.lr_scale * 0.5
            self._load(last)  # restores weights, optimisers, data order and noise of that step
            self.rollbacks, self.lr_scale = rollbacks, scale
            self._set_lr()
            self.log.message(f"loss became NaN/inf; rolled back to step {self.step} with learning rates "
                             f"x{self.lr_scale:g} (rollback {self.rollbacks}/3)")
            return
        raise GenlabError(f"training diverged: a loss became NaN/inf by step {self.step}{where}; lower "
                          "train.lr, enable train.grad_clip, or use train.on_nan=rollback")

    @staticmethod
    def _ckpt_step(path: Optional[Path]) -> int:
        return int(path.name.split("-")[1]) if path else 0

    # --- checkpoints --------------------------------------------------------------------------
    def model_state(self) -> dict[str, torch.Tensor]:
        """The model's state_dict with wrapper prefixes (DDP `module.`, compile `_orig_mod.`) removed."""
        sd = self.model.state_dict()
        out = {}
        for k, v in sd.items():
            for tag in (".module.", "._orig_mod."):
                while tag in k:
                    k = k.replace(tag, ".", 1)
            out[k] = v
        return out

    def save(self) -> None:
        noise = self.noise.get_state()
        if self.dist.enabled:
            noise = dist.all_gather_cat(noise.to(self.device).unsqueeze(0), self.dist).cpu()
        else:
            noise = noise.unsqueeze(0)  # (world_size=1, L)
        if self.is_main and self.run_dir is not None:
            state = {"step": self.step,
                     "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
                     "batcher": self.batcher.state_dict(),
                     "noise": noise,
                     "lr_scale": self.lr_scale,
                     "rollbacks": self.rollbacks,
                     "precision": self.precision}
            ckpt.save_checkpoint(self.run_dir, self.step, self.model_state(),
                                 self.ema.state_dict() if self.ema else None, state,
                                 keep=self.cfg.keep_checkpoints)
        dist.barrier(self.dist)

    def _load(self, path: Optional[Path]) -> None:
        if path is None:
            raise GenlabError(f"no checkpoint to resume in {self.run_dir}; start a new run instead")
        weights = ckpt.load_weights(path / "model.safetensors")
        missing, unexpected = self._raw_model_load(weights)
        if missing or unexpected:
            raise GenlabError(f"checkpoint {path} does not match this model (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}); resume with the run's own config")
        state = ckpt.load_training_state(path / "training_state.pt")
        for g, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][g])
        self.batcher.load_state_dict(state["batcher"])
        noise = state["noise"]  # (world_size, L): one noise stream per rank
        if noise.dim() == 1 or noise.shape[0] != self.dist.world_size:
            raise GenlabError(f"checkpoint {path} was written by {noise.shape[0] if noise.dim() > 1 else 1} "
                              f"process(es); resume with the same number ({self.dist.world_size} now)")
        self.noise.set_state(noise[self.dist.rank].contiguous())
        self.step = int(state["step"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        if self.cfg.precision == "auto" and state.get("precision") in ("bf16", "fp32"):
            self.precision = state["precision"]  # what auto chose when the run started
            self.precision_why = "auto, as chosen when the run started (checkpoint)"
        if self.ema is not None:
            self.ema.load_state_dict(ckpt.load_weights(path / "ema.safetensors"))

    def _raw_model_load(self, weights: dict) -> tuple[list, list]:
        own = self.model_state()
        missing = [k for k in own if k not in weights]
        unexpected = [k for k in weights if k not in own]
        if not missing and not unexpected:
            with torch.no_grad():
                for k, v in own.items():
                    v.copy_(weights[k].to(v.device))
        return missing, unexpected

    # --- samples ------------------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self) -> None:
        if not self.is_main or self.run_dir is None:
            return
        from ..viz.preview import save_preview

        was = self.model.training
        self.model.eval()
        backup = None
        if self.ema is not None:  # sample with the averaged weights, then put the live ones back
            backup = {n: {k: v.clone() for k, v in self.raw[n].state_dict().items()} for n in self.ema.shadow}
            for n, sd in self.ema.shadow.items():
                self.raw[n].load_state_dict(sd)
        try:
            g = torch.Generator(self.device).manual_seed(self.sample_gen_seed)
            info = self.data.info
            n = 64 if info.is_image else 2000
            inputs = self.data.preview_batch(8, self.device) if self.model.conditional else None
            with autocast(self.precision, self.device):
                panels = self.model.preview(inputs, n=n, generator=g)
            real = None
            if not info.is_image:
                real = self.real_preview if self.real_preview is not None else self.data.get(slice(0, 2000))
                real = real.cpu()
            png = self.run_dir / "samples" / f"step-{self.step:08d}.png"
            save_preview(panels, info, png, real=real, title=f"step {self.step}")
            self.log.image("samples", png, self.step)
        finally:
            if backup is not None:
                for n, sd in backup.items():
                    self.raw[n].load_state_dict(sd)
            self.model.train(was)

    # --- signals ------------------------------------------------------------------------------
    def _install_signals(self):
        import threading

        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._signal is not None:  # a second Ctrl-C: stop now, without saving
                raise KeyboardInterrupt
            self._signal = signum
        return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def _restore_signals(self, old) -> None:
        if old:
            for s, h in old.items():
                signal.signal(s, h)
