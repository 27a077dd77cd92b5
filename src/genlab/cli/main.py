"""`genlab` entry point: subcommands, and the one place user errors become one line + exit code 2."""
from __future__ import annotations

import argparse
import sys

from ..errors import GenlabError

def build_parser() -> argparse.ArgumentParser:
    from . import complete, data_cmd, density_cmd, eval_cmd, explore, list_cmd, probe, reconstruct, report_cmd, sample, train

    p = argparse.ArgumentParser(prog="genlab", description="Train, evaluate, explore and apply deep "
                                "generative models. 'genlab COMMAND --help' for details.")
    p.add_argument("--version", action="version", version=f"genlab {__import__('genlab').__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for mod in (list_cmd, train, sample, reconstruct, eval_cmd, probe, data_cmd, explore, report_cmd, complete, density_cmd):
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    import warnings

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"genlab: warning: {message}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = one_line_warning  # library warnings become one readable line
        return _main(argv)


def _main(argv: list[str]) -> int:
    try:
        from .. import components  # noqa: F401  (fill the registries)

        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        if extra and not getattr(args, "accepts_overrides", False):
            raise GenlabError(f"unrecognised argument(s) {' '.join(extra)}; see 'genlab {args.command} --help'")
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


if __name__ == "__main__":
    raise SystemExit(main())
