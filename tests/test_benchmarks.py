"""`make bench` (benchmarks/run_all.py): every benchmark it lists exists and parses its own options."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import run_all  # noqa: E402


def test_make_bench_runs_the_runner_that_exists():
    target = re.search(r"^bench:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    script = target.split()[-1]
    assert (ROOT / script).is_file(), script


@pytest.mark.parametrize("name", sorted(run_all.BENCHMARKS))
def test_listed_benchmark_accepts_its_arguments(name):
    cmd, _ = run_all.BENCHMARKS[name]
    script = ROOT / "benchmarks" / cmd[0]
    assert script.is_file()
    # argparse converts the values given before --help (a bad int would exit 2); --help exits 0 without
    # running anything, and lists every option the script has, so each listed one must be among them
    r = subprocess.run([sys.executable, str(script), *cmd[1:], "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    for opt in (a for a in cmd[1:] if a.startswith("--")):
        assert re.search(rf"(^|[\s\[,]){re.escape(opt)}\b", r.stdout), (opt, r.stdout[:300])


def test_unknown_benchmark_is_a_one_line_error(capsys):
    assert run_all.main(["--only", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "expected one of" in err[0]


def test_matmul_peak_shrinks_the_product_only_where_the_cpu_is_slow_at_it():
    import torch

    import hardware

    fast = hardware.matmul_peak(torch.float32, n=512, repeats=1, max_s=60.0)
    assert hardware.LAST_SIZE["float32"] == 512 and 1e6 < fast < 1e14
    slow = hardware.matmul_peak(torch.float32, n=512, repeats=1, max_s=1e-9)  # "too slow" at any size
    assert hardware.LAST_SIZE["float32"] == 256 and 1e6 < slow < 1e14
    assert hardware.sizes() == "fp32 256^3"
