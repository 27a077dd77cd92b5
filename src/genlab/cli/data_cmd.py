"""`genlab data download fashion-mnist`, `genlab data info NAME[:SPLIT] [--data.KEY=VALUE ...]` and
`genlab data preview NAME[:SPLIT] --out grid.png [--data.KEY=VALUE ...]`."""
from __future__ import annotations

from ..config import DataConfig, build, parse_overrides
from ..data import fashion_mnist, load_dataset, parse_spec
from ..errors import GenlabError
from .common import add_force, add_n, add_out, out_path, positive_int, say


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="download, describe or preview datasets")
    s = p.add_subparsers(dest="data_command", metavar="ACTION")
    d = s.add_parser("download", help="fetch a dataset into the user cache (needs network)")
    d.add_argument("name", choices=["fashion-mnist"], help="the dataset to fetch")
    i = s.add_parser("info", help="fields (shape, kind, units, levels, gaps) and size of a dataset split")
    i.add_argument("spec", help="NAME or NAME:SPLIT; dataset options as --data.KEY=VALUE")
    i.set_defaults(accepts_overrides=True)
    v = s.add_parser("preview", help="a PNG of the first examples as a model will see them (all fields)")
    v.add_argument("spec", help="NAME or NAME:SPLIT; dataset options as --data.KEY=VALUE")
    add_out(v, "output .png", required=True)
    add_n(v, 6, "examples to show")
    add_force(v)
    v.set_defaults(accepts_overrides=True)
    p.set_defaults(func=run)


def _load(args):
    name, split = parse_spec(args.spec)
    over = parse_overrides(list(getattr(args, "overrides", []) or []))
    if over["model"] or over["train"]:
        raise GenlabError("genlab data takes only --data.KEY=VALUE options")
    try:
        dcfg = build(DataConfig, {"name": name, "split": split, **over["data"]}, "data")
    except ValueError as e:
        raise GenlabError(str(e)) from None
    data = load_dataset(dcfg.name, dcfg.split, **dcfg.options())
    return data.subset(dcfg.limit) if dcfg.limit else data


def describe(data) -> list[str]:
    """Lines of `genlab data info`: size, then one line per field with units, ranges and gaps."""
    info = data.info
    lines = [f"{data.name}:{data.split}: {len(data)} examples; fields:"]
    tensors = getattr(data, "tensors", {})
    if not tensors and hasattr(data, "streams"):
        lines[0] = f"{data.name}:{data.split}: unpaired streams " + ", ".join(
            f"{s} ({len(d)} examples)" for s, d in data.streams.items()) + "; fields:"
        for d in data.streams.values():
            tensors = {**tensors, **d.tensors}
    for name, spec in info.fields.items():
        line = f"  {name}: {spec.describe()}"
        t = tensors.get(name)
        if t is not None and spec.kind == "field":
            v = t.float()
            if spec.valid and spec.valid in tensors:
                v = v[tensors[spec.valid].expand_as(t).bool()]
            if v.numel():
                u = f" {spec.units}" if spec.units else ""
                line += f"; values {v.min().item():.4g} to {v.max().item():.4g}{u} (mean {v.mean().item():.4g}{u})"
        if t is not None and spec.kind == "mask":
            line += f"; observed fraction {t.float().mean().item():.3f}"
        elif t is None:
            line += " (derived per batch)"
        lines.append(line)
    for k in ("source", "path"):
        if k in data.meta:
            lines.append(f"  from {data.meta[k]}")
            break
    return lines


def run(args) -> int:
    if args.data_command == "download":
        dest = fashion_mnist.download()
        say(f"Fashion-MNIST verified in {dest}")
        return 0
    if args.data_command == "info":
        say("\n".join(describe(_load(args))))
        return 0
    if args.data_command == "preview":
        positive_int("-n", args.n)
        out = out_path(args.out, args.force, (".png",))
        data = _load(args)
        preview(data, out, n=args.n)
        say(f"wrote a preview of {min(args.n, len(data))} examples of {data.name}:{data.split} "
            f"(fields {', '.join(data.info.fields)}) to {out}")
        return 0
    raise GenlabError("say what to do: genlab data download NAME, genlab data info NAME or genlab data preview NAME")


def preview(data, out, *, n: int = 6) -> None:
    """Every spatial field of the first n examples as a column (fields in physical units with a colour bar,
    gaps shaded); vector data as a scatter."""
    from ..models.base import Panel
    from ..viz.preview import save_preview

    info = data.info
    batch = data.preview_batch(n if info.is_image else 2000)
    spatial = [k for k, s in info.fields.items() if s.spatial]
    if not spatial:
        x = batch.fields[info.primary]
        save_preview([Panel("data", x, info.primary)], info, out, real=x[:0], title=f"{data.name}:{data.split}")
        return
    panels = [Panel(f"{k} [{info.fields[k].units}]" if info.fields[k].units else k, batch.fields[k], k)
              for k in spatial]
    masks = {k: batch.fields[s.valid] for k, s in info.fields.items() if s.valid and s.valid in batch.fields}
    if "mask" in batch.fields and info.primary in batch.fields:  # a derived hole mask: show the input it makes
        x, m = batch.fields[info.primary], batch.fields["mask"]
        panels.insert(1, Panel(f"{info.primary} with holes", x * m + (1 - m) * x.mean(), info.primary))
    save_preview(panels, info, out, masks=masks, title=f"{data.name}:{data.split}", rows=n)
