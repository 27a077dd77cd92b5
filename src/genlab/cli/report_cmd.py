"""`genlab report RUN` (re)writes RUN/report.html; `genlab compare RUN1 RUN2 ... --out page.html` makes
one page comparing runs. Both pages are self-contained: open them in any browser, offline."""
from __future__ import annotations

from ..errors import GenlabError
from .common import add_force, add_out, out_path, say


def add_parser(sub) -> None:
    r = sub.add_parser("report", help="(re)write RUN/report.html: config, curves, samples, metrics, explore")
    r.add_argument("run", help="run directory")
    add_out(r, "write here instead of RUN/report.html")
    add_force(r)
    r.set_defaults(func=run_report)
    c = sub.add_parser("compare", help="one HTML page comparing runs (metrics, curves, grids)")
    c.add_argument("runs", nargs="+", help="two or more run directories")
    add_out(c, "output .html page", required=True)
    add_force(c)
    c.set_defaults(func=run_compare)


def run_report(args) -> int:
    from ..report import write_report

    out = out_path(args.out, args.force, (".html",)) if args.out else None
    path = write_report(args.run, out)
    say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")
    return 0


def run_compare(args) -> int:
    from ..report import write_compare

    if len(args.runs) < 2:
        raise GenlabError("compare needs at least two run directories: genlab compare RUN1 RUN2 --out page.html")
    out = out_path(args.out, args.force, (".html",))
    notes: list[str] = []
    path = write_compare(args.runs, out, notes)
    say(f"wrote {path} comparing {len(args.runs)} runs ({path.stat().st_size / 1e6:.1f} MB, self-contained)")
    for n in notes:  # results the page shows apart, and why
        say(n)
    return 0


def after_training(run_dir) -> None:
    """Called by `genlab train` when training ends or is interrupted: write RUN/report.html. A failure here
    must not turn a finished training into an error, so it becomes a warning."""
    from ..report import write_report
    from .common import warn

    try:
        path = write_report(run_dir)
    except (GenlabError, OSError, ValueError) as e:
        warn(f"could not write the run report ({e}); try 'genlab report {run_dir}'")
        return
    say(f"report: {path}")
