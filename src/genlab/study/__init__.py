"""Studies: many trainings of one model over a grid or random search × seeds, run by any number of
workers that share an Optuna storage (docs/study.md).

    spec.py     the YAML spec: parse, validate, expand into the fixed list of trials (names, overrides)
    values.py   spec values as CLI text, Optuna params and directory names; random-search draws
    storage.py  the Optuna storage (SQLite by default, any SQLAlchemy URL) and the study's trial queue
    runner.py   one worker: claim a waiting trial, train or resume its run directory, evaluate, report back
    stats.py    summary numbers and the expected best score of k random trials (Lucic et al.'s budget curve)
    records.py  a trial's score: the genlab eval record of the study's protocol in TRIAL/metrics.json
    layout.py   the study directory: its identity file, trial directories, per-trial locks
    report.py   the study table, score distributions, budget curves and an HTML summary

Each trial is an ordinary run directory, STUDY/trials/NAME, trained by the same code as `genlab train`
and evaluated by `genlab eval` (the CLI passes both commands in, so this package does not import cli/).
"""
