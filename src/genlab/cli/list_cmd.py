"""`genlab list [models|datasets|losses|extractors|optimizers]`."""
from __future__ import annotations

from ..registry import DATASETS, EXTRACTORS, LOSSES, MODELS, OPTIMIZERS
from .common import say

KINDS = {"models": MODELS, "datasets": DATASETS, "losses": LOSSES, "extractors": EXTRACTORS,
         "optimizers": OPTIMIZERS}


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list registered models, datasets, losses, extractors, optimizers")
    p.add_argument("kind", nargs="?", choices=list(KINDS), help="what to list (default: all)")
    p.set_defaults(func=run)


def run(args) -> int:
    for kind in [args.kind] if args.kind else list(KINDS):
        entries = KINDS[kind].entries()
        say(f"{kind}:")
        if not entries:
            say("  (none registered)")
        width = max((len(e.name) for e in entries), default=0)
        for e in entries:
            extra = f"[{e.meta['family']}] " if "family" in e.meta else ""
            say(f"  {e.name.ljust(width)}  {extra}{e.meta.get('help', '')}".rstrip())
    return 0
