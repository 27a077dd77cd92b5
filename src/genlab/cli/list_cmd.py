"""`genlab list [models|datasets|losses|extractors|optimizers|presets]` (no torch import: see catalog.py)."""
from __future__ import annotations

from .catalog import KINDS, catalog, presets
from .common import say

ALL = KINDS + ("presets",)


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list registered models, datasets, losses, extractors, optimizers, presets")
    p.add_argument("kind", nargs="?", choices=list(ALL), help="what to list (default: all)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..progress import terminal_width

    width_total = terminal_width(default=120)
    cat = None
    for kind in [args.kind] if args.kind else list(ALL):
        if kind == "presets":
            entries = [{"name": k, "family": None, "help": f"(model {v['model']}) {v['help']}"}
                       for k, v in presets().items()]
        else:
            cat = cat or catalog()
            entries = cat[kind]
        say(f"{kind}:")
        if not entries:
            say("  (none registered)")
        width = max((len(e["name"]) for e in entries), default=0)
        for e in entries:
            extra = f"[{e['family']}] " if e.get("family") else ""
            line = f"  {e['name'].ljust(width)}  {extra}{e['help']}".rstrip()
            say(line if len(line) < width_total or not _is_tty() else line[:width_total - 2] + "…")
    if not args.kind:
        say("\nuse a preset with genlab train --config NAME; 'genlab train MODEL --help' lists a model's keys")
    return 0


def _is_tty() -> bool:
    import sys

    return sys.stdout.isatty()
