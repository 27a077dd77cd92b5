"""`genlab` entry point: subcommands, and the one place user errors become one line + exit code 2.

Only the module of the command given is imported (`genlab --help` and `genlab list` import no torch);
the top-level listing comes from COMMANDS. A new command is one line here: name -> (module, help).
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys

from ..errors import GenlabError

# name -> (module under genlab.cli, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("list_cmd", "list registered models, datasets, losses, extractors, optimizers, presets"),
    "train": ("train", "train a model (any --model.KEY / --train.KEY / --data.KEY overrides a config value)"),
    "sample": ("sample", "draw samples from a trained run into a PNG grid, .npy/.npz or .nc"),
    "translate": ("translate", "translate images with a trained translation run (any image size)"),
    "superres": ("superres", "super-resolve images of any size with an srresnet/srgan run (tiled)"),
    "inpaint": ("inpaint", "fill holes of images/fields of any size with an inpaint run (tiled)"),
    "denoise": ("denoise", "denoise images/fields of any size with a denoise run (tiled)"),
    "impute": ("impute", "fill the gaps of a netCDF variable with an inpaint run (gt, mask, output, infilled)"),
    "reconstruct": ("reconstruct", "encode and decode real images: inputs above outputs"),
    "eval": ("eval_cmd", "evaluate a run, or compare two image sets (--real/--fake)"),
    "probe": ("probe", "few-label classifier on frozen encoder features vs raw pixels"),
    "data": ("data_cmd", "download, describe or preview datasets"),
    "explore": ("explore", "look inside a latent space: interpolate, arithmetic, traverse, neighbors, map"),
    "report": ("report_cmd", "(re)write RUN/report.html: config, curves, samples, metrics, explore"),
    "compare": ("report_cmd", "one HTML page comparing runs (metrics, curves, grids)"),
    "complete": ("complete", "complete partly hidden real test images (top half given by default)"),
    "density": ("density_cmd", "1-D/2-D toy runs: true vs learned density and samples, side by side"),
    "quiz": ("quiz", "a 'which is fake?' HTML page: real vs generated pairs, score, p-value"),
    "study": ("study", "many trainings (grid/random search × seeds) on an Optuna storage; report: table, figures"),
}
# commands that fill the registries themselves, only when they need them (`list` reads a cached catalog)
LIGHT = {"list"}


class Parser(argparse.ArgumentParser):
    """argparse, but its errors are GenlabErrors (one line, exit code 2) with a suggestion where one fits."""

    def error(self, message: str):  # type: ignore[override]
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            from ..config import did_you_mean

            message += did_you_mean(m.group(1), [o.strip(" '") for o in m.group(2).split(",")])
        raise GenlabError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser of `command` (its module imported), with one-line stubs for the others."""
    p = Parser(prog="genlab", description="Train, evaluate, explore and apply deep generative models. "
               "'genlab COMMAND --help' for details.")
    p.add_argument("--version", action="version", version=f"genlab {__import__('genlab').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    if command is not None:
        importlib.import_module(f".{COMMANDS[command][0]}", __package__).add_parser(sub)
        real = sub.choices[command]
        real.description = real.description or COMMANDS[command][1]
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=text, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    import warnings

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"genlab: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = one_line_warning  # library warnings become one readable line
        return _main(argv)


def _command(argv: list[str]) -> str | None:
    """The subcommand named in argv (the first word that is not an option), checked against COMMANDS."""
    word = next((a for a in argv if not a.startswith("-")), None)
    if word is None or word in COMMANDS:
        return word
    from ..config import did_you_mean

    raise GenlabError(f"unknown command {word!r}{did_you_mean(word, COMMANDS)}; choose one of: "
                      f"{', '.join(COMMANDS)} (see 'genlab --help')")


def _main(argv: list[str]) -> int:
    try:
        command = _command(argv)
        if command is not None and command not in LIGHT:
            from .. import components  # noqa: F401  (fill the registries)
        parser = build_parser(command)
        args, extra = parser.parse_known_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        if getattr(args, "accepts_overrides", False):  # --section.key=value may follow; a plain --word may not
            bad = [e for e in extra if e.startswith("--") and "." not in e.split("=", 1)[0]]
            if bad:
                raise GenlabError(f"unrecognised option {bad[0].split('=', 1)[0]}{_suggest(parser, command, bad)}"
                                  f"; overrides look like --model.KEY=VALUE, --train.KEY=VALUE or --data.KEY=VALUE "
                                  f"(see 'genlab {args.command} --help')")
        elif extra:
            raise GenlabError(f"unrecognised argument(s) {' '.join(extra)}{_suggest(parser, command, extra)}; "
                              f"see 'genlab {args.command} --help'")
        args.overrides = extra
        return int(args.func(args) or 0)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def options_of(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """Every --option of `command` (and of its own subcommands, e.g. explore's)."""
    out: list[str] = []
    todo = [parser._subparsers._group_actions[0].choices[command]]  # type: ignore[union-attr]
    while todo:
        p = todo.pop()
        out += [s for s in p._option_string_actions if s.startswith("--")]
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                todo += list(a.choices.values())
    return sorted(set(out))


def _suggest(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> str:
    from ..config import did_you_mean

    first = next((e.split("=", 1)[0] for e in extra if e.startswith("--")), None)
    return did_you_mean(first, options_of(parser, command)) if first else ""


if __name__ == "__main__":
    raise SystemExit(main())
