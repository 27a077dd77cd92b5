"""Simulators behind the generated data sets: the Rayleigh–Bénard solver (rayleigh_benard.py) and its snapshot
runs (rb_runs.py), Gaussian and log-normal random fields (random_fields.py), and their disk cache (cache.py)."""
