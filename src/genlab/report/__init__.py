"""Self-contained HTML reports (images embedded as data: URIs, inline CSS, no scripts, no network).

write_report(RUN)            RUN/report.html: config, loss curves, samples/s, sample grids over training,
                             latest metrics with their protocol, the explore pictures in RUN/explore/
write_compare(RUNS, out)     one page comparing runs: metrics table, curves overlaid, grids side by side
"""
from .compare import build_compare, write_compare  # noqa: F401
from .run_report import build_report, read_run, write_report  # noqa: F401
