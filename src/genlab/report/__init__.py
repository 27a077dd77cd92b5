"""Self-contained HTML reports (images embedded as data: URIs, inline CSS, no scripts, no network), and the
results store they read.

record_result(RUN, kind, protocol, values, step)   keep one result in RUN/metrics.json (results.py) and
                                                   redraw RUN/report.html
load_results(RUN)            every stored result (a Record: kind, protocol, values, step, recorded_at)
write_report(RUN)            RUN/report.html: config, loss curves, samples/s, sample grids over training,
                             every result with its protocol and step, the explore pictures in RUN/explore/
write_compare(RUNS, out)     one page comparing runs: same-protocol results side by side, curves overlaid,
                             grids side by side
"""
from .compare import build_compare, write_compare  # noqa: F401
from .results import Record, latest_result, load_results, record_result, refresh_report  # noqa: F401
from .run_report import build_report, read_run, write_report  # noqa: F401
