"""`genlab train MODEL --data NAME[:SPLIT] [--config FILE] [--section.key=value ...] [--out DIR]`
and `genlab train --resume RUN_DIR [--train.steps=N]`."""
from __future__ import annotations

import signal
from pathlib import Path

from ..config import DataConfig, TrainConfig, did_you_mean, parse_overrides, read_yaml, resolve, to_dict
from ..config_help import key_help
from ..data import load_dataset, parse_spec
from ..errors import GenlabError
from ..registry import MODELS
from ..runs import build_model, read_config, warm_start, write_run_files
from ..training import Trainer, TrainingInterrupted
from ..training.trainer import preflight
from ..training import checkpoint as ckpt
from .catalog import PRESET_DIR, presets  # noqa: F401  (PRESET_DIR: tests and tools read it here)
from .common import DEVICE_HELP, add_out, check_device_name, say

# keys that may change when a run is resumed (they do not change the maths of the steps already taken)
RESUMABLE = {"steps", "progress", "log_every", "sample_every", "ckpt_every", "keep_checkpoints", "device",
             "threads", "tensorboard"}


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model (any extra --model.KEY / --train.KEY / --data.KEY "
                       "overrides a config value)", add_help=False)
    p.add_argument("model", nargs="?", help="registered model name (genlab list models)")
    p.add_argument("--data", help="dataset NAME or NAME:SPLIT (genlab list datasets)")
    p.add_argument("--config", help="YAML preset (a path, or a name from genlab list presets)")
    add_out(p, "new run directory (default runs/<model>-<data>-<n>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    p.add_argument("--device", default=None, metavar="DEVICE", help="the same as --train.device=DEVICE: "
                   + DEVICE_HELP)
    p.add_argument("-h", "--help", action="store_true", help="show this help (with MODEL: its config keys)")
    p.set_defaults(func=run, accepts_overrides=True)


def _help(model: str | None, overrides: dict) -> int:
    say("usage: genlab train MODEL --data NAME[:SPLIT] [--config PRESET] [--out DIR] [--device DEVICE] "
        "[--KEY=VALUE ...]\n"
        "       genlab train --resume RUN_DIR [--train.steps=N]\n\n"
        "Every key below is --section.key=VALUE (default shown), its allowed values, and what it does.\n")
    sections = [("train", TrainConfig), ("data", DataConfig)]
    shown: dict[str, dict] = {}  # section -> the values a run of this model gets by default
    if model:
        entry = MODELS.entry(model)
        sections.insert(0, ("model", entry.meta["config"]))
        # the model's own defaults (and those of --model.KEY=VALUE given with --help, e.g. a loss)
        cfg = resolve(model, [{"model": overrides.get("model", {})}])
        shown = {"model": to_dict(cfg.model), "train": to_dict(cfg.train)}
        per_loss = getattr(entry.obj, "loss_defaults", {})
        if per_loss:
            say(f"defaults below are for --model.loss={cfg.model.loss}; {', '.join(per_loss)} have their own "
                f"(genlab train {model} --model.loss=NAME --help)\n")
    else:
        say("models: " + ", ".join(MODELS) + "  ('genlab train MODEL --help' lists its keys)\n")
    for name, cls in sections:
        say(f"{name} keys:")
        rows = key_help(cls)
        heads = []
        for k in rows:
            default = repr(shown[name][k.key]) if k.key in shown.get(name, {}) else k.default
            heads.append(f"  --{name}.{k.key}={default}")
        width = min(44, max(len(h) for h in heads))
        for head, k in zip(heads, rows):
            allowed = "|".join(_plain(c) for c in k.choices) if k.choices else k.type
            say(f"{head.ljust(width)}  {allowed}" + (f"  {k.help}" if k.help else ""))
        say("")
    return 0


def _plain(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _preset(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        known = presets()
        if path in known:
            p = Path(known[path]["path"])
        elif not path.endswith((".yaml", ".yml")) and "/" not in path:
            raise GenlabError(f"unknown preset {path!r}{did_you_mean(path, known)}; choose one of: "
                              f"{', '.join(known)} (genlab list presets) or give a YAML file")
    return read_yaml(p)


def run(args) -> int:
    overrides = parse_overrides(args.overrides)
    if args.device is not None:  # --device is --train.device, as in every other command
        overrides["train"]["device"] = check_device_name(args.device)
    if args.help:
        return _help(args.model, overrides)
    if args.resume:
        return _resume(args, overrides)
    layers = []
    preset = _preset(args.config) if args.config else {}
    model = args.model or preset.get("model_name")
    if not model:
        raise GenlabError("name a model: genlab train MODEL --data NAME (see 'genlab list models')")
    MODELS.entry(model)  # a clear error for unknown names before anything else
    if preset:
        layers.append(preset)
    if args.data:
        name, split = parse_spec(args.data, "train")
        layers.append({"data": {"name": name, "split": split}})
    layers.append(overrides)
    cfg = resolve(model, layers)
    if not cfg.data.name:
        raise GenlabError("name a dataset: --data NAME[:SPLIT] (see 'genlab list datasets')")
    data = _load(cfg.data)
    model_obj = build_model(cfg, data.info)  # refuses missing fields and bad settings: no directory yet
    warm_start(model_obj)  # e.g. srgan's generator from model.init_from=RUN (refused before any directory)
    preflight(model_obj, cfg.train, data, world_size=_dist(cfg.train.device)[1].world_size)
    run_dir = _make_run_dir(args.out, f"{model}-{cfg.data.name}", cfg.train.device)
    if run_dir is not None:
        write_run_files(run_dir, cfg, data.info, data.meta)
        say(f"run directory: {run_dir}")
    run_dir = _share(run_dir, cfg.train.device)
    return _fit(model_obj, cfg, data, run_dir, resume=False)


def _dist(device: str):
    from ..training import distributed as dist
    from ..training.precision import pick_device

    return dist, dist.init(pick_device(device).type)


def _make_run_dir(out: str | None, stem: str, device: str) -> Path | None:
    """Rank 0 creates the run directory (never reusing one); other ranks get its name from rank 0."""
    _, info = _dist(device)
    if not info.is_main:
        return None
    return ckpt.new_run_dir(Path(out)) if out else ckpt.new_run_dir(ckpt.next_run_dir(Path("runs"), stem))


def _share(run_dir: Path | None, device: str) -> Path:
    dist, info = _dist(device)
    if not info.enabled:
        return run_dir
    import torch.distributed as tdist

    box = [str(run_dir) if run_dir else None]
    tdist.broadcast_object_list(box, src=0)
    return Path(box[0])


def _load(dcfg: DataConfig):
    data = load_dataset(dcfg.name, dcfg.split, **dcfg.options())
    if dcfg.limit:
        data = data.subset(dcfg.limit)
    return data


def _resume(args, overrides: dict) -> int:
    run_dir = Path(args.resume)
    cfg = read_config(run_dir)
    if args.model and args.model != cfg.model_name:
        raise GenlabError(f"run {run_dir} trains {cfg.model_name!r}, not {args.model!r}; drop MODEL when "
                          "resuming")
    bad = [f"{s}.{k}" for s in ("model", "data") for k in overrides[s]] + \
          [f"train.{k}" for k in overrides["train"] if k not in RESUMABLE]
    if bad or args.data or args.config:
        raise GenlabError(f"cannot change {', '.join(bad) or '--data/--config'} when resuming; only "
                          f"{', '.join('train.' + k for k in sorted(RESUMABLE))} may change")
    latest = ckpt.latest_checkpoint(run_dir)
    if latest is None:
        raise GenlabError(f"run {run_dir} has no checkpoint to resume from; start a new run instead")
    if overrides["train"]:
        raw = cfg.to_dict()
        raw["train"].update(overrides["train"])
        cfg = resolve(cfg.model_name, [{s: raw[s] for s in ("model", "train", "data")}])
    at = ckpt.checkpoint_step(latest)
    if at >= cfg.train.steps:  # nothing to do: the run's files stay exactly as they are
        say(f"run already at step {at} of {cfg.train.steps}; raise --train.steps to continue")
        return 0
    data = _load(cfg.data)
    model_obj = build_model(cfg, data.info)
    preflight(model_obj, cfg.train, data, world_size=_dist(cfg.train.device)[1].world_size)
    new_text = cfg.dump()
    if new_text != (run_dir / "config.yaml").read_text():  # written only when a resumable key changed
        ckpt.atomic_write_text(run_dir / "config.yaml", new_text)
    say(f"resuming {run_dir}")
    return _fit(model_obj, cfg, data, run_dir, resume=True)


def _fit(model, cfg, data, run_dir: Path, *, resume: bool) -> int:
    try:
        trainer = Trainer(model, cfg.train, data, run_dir, resume=resume)
    except BaseException:
        if not resume:
            ckpt.remove_stub(run_dir)  # a fresh run that never started leaves nothing behind
        raise
    if resume and trainer.step >= cfg.train.steps:
        say(f"run already at step {trainer.step} of {cfg.train.steps}; raise --train.steps to continue")
        return 0
    from ..training import distributed

    try:
        trainer.fit()
    except TrainingInterrupted as e:
        distributed.shutdown(trainer.dist, sync=False)
        name = signal.Signals(e.signum).name
        say(f"{name} at step {e.step}: checkpoint saved; continue with 'genlab train --resume {run_dir}'")
        if trainer.is_main:
            from .report_cmd import after_training
            after_training(run_dir)  # cheap (a few seconds): the report of the checkpointed state
        return 128 + int(e.signum)
    if trainer.is_main:
        from ..viz.plots import loss_curves

        loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", title=f"{cfg.model_name} on "
                    f"{cfg.data.name}")
        say(f"done: {cfg.train.steps} steps; weights in {run_dir / 'model.safetensors'}")
        from .report_cmd import after_training
        after_training(run_dir)
    distributed.shutdown(trainer.dist)
    return 0
