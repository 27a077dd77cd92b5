import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")
# train.precision=auto measures fp32 vs bf16 on CPUs with AVX-512 BF16 and no AMX (training/precision.py); the
# suite fixes the answer so that two runs of one config never differ by a timing (tests/test_precision_auto.py
# measures with it unset)
os.environ.setdefault("GENLAB_AUTO_PRECISION", "bf16")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest-xdist workers on the 2-core CI machine: one BLAS/OpenMP thread each (and in
    # the CLI subprocesses they start), so the two never fight over the cores.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


@pytest.fixture(scope="session", autouse=True)
def _components():
    import genlab.components  # noqa: F401  (fill the registries)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch
        torch.set_num_threads(1)
