"""`genlab data download fashion-mnist` and `genlab data info NAME[:SPLIT]`."""
from __future__ import annotations

from ..data import fashion_mnist, load_dataset
from ..errors import GenlabError
from .common import say


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="download or inspect datasets")
    s = p.add_subparsers(dest="data_command", metavar="ACTION")
    d = s.add_parser("download", help="fetch a dataset into the user cache (needs network)")
    d.add_argument("name", choices=["fashion-mnist"])
    i = s.add_parser("info", help="shape, levels, labels and location of a dataset split")
    i.add_argument("spec", help="NAME or NAME:SPLIT")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.data_command == "download":
        dest = fashion_mnist.download()
        say(f"Fashion-MNIST verified in {dest}")
        return 0
    if args.data_command == "info":
        d = load_dataset(args.spec)
        say(f"{d.name}:{d.split}: {len(d)} examples of shape {tuple(d.x.shape[1:])}, "
            f"levels={d.levels}, classes={d.n_classes}" + (f", from {d.meta['source']}" if "source" in d.meta else ""))
        return 0
    raise GenlabError("say what to do: genlab data download NAME, or genlab data info NAME")
