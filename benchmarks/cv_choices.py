"""Settings of the template that its notebooks do not search, chosen on cross-validation.

The notebooks choose models and settings on cross-validation of the training split (steps 3
and 4), and score the chosen one once on the test split (step 5). A few settings are fixed in
the template instead: for image classification the deeper CNN's width, its learning-rate
schedule and its batch size; for regression whether the final network learns from all the
training rows or keeps a slice of them aside. This script compares the candidates for those,
on the same cross-validation of the training split of the shipped examples (the test split is
never read), and writes the table to docs/benchmarks.md.

    portfolio run                      # the shipped projects' prepared data (data/prepared/)
    python benchmarks/cv_choices.py [--seeds 42,43,44] [--report]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent
RAW = Path(__file__).with_name("cv_choices.json")
sys.path.insert(0, str(REPO / "benchmarks"))

from docs_section import write_section  # noqa: E402


def _models(project: str):
    """The project's own models.py (what its notebooks import)."""
    import importlib.util

    path = REPO / "portfolio/projects" / project / "notebooks/models.py"
    spec = importlib.util.spec_from_file_location(f"models_{project.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prepared(project: str) -> Path:
    folder = REPO / "portfolio/projects" / project / "data/prepared"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: missing; run `portfolio run` first (steps 1-2 make it)")
    return folder


def digits(seeds: list[int]) -> list[dict]:
    """The deeper CNN of step 3 (two blocks of two convolutions, 30 epochs, no augmentation)
    on step 3's folds: width x learning-rate schedule x batch size."""
    import keras
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    models = _models("digits-cnn")
    train = np.load(_prepared("digits-cnn") / "train.npz")
    X, y = train["X"], train["y"]
    meta = {"X_shape_": X.shape, "n_classes_": int(y.max()) + 1}
    rows = []
    for filters in (32, 48):
        for schedule in ("cosine", "constant"):
            for batch_size in (32, 64):
                scores = []
                started = time.perf_counter()
                for seed in seeds:
                    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
                    for fit_rows, held_out in folds.split(X, y):
                        keras.utils.set_random_seed(seed)
                        model = models.build_cnn(meta, blocks=2, convs_per_block=2,
                                                 filters=filters, dense=128)
                        callbacks = [models.CosineSchedule()] if schedule == "cosine" else []
                        model.fit(X[fit_rows], y[fit_rows], epochs=30, batch_size=batch_size,
                                  callbacks=callbacks, verbose=0)
                        pred = model.predict(X[held_out], verbose=0).argmax(axis=1)
                        scores.append(float((pred == y[held_out]).mean()))
                rows.append({"filters": filters, "schedule": schedule, "batch_size": batch_size,
                             "mean": statistics.mean(scores), "std": statistics.pstdev(scores),
                             "fits": len(scores), "seconds": time.perf_counter() - started})
                print(rows[-1], flush=True)
    return rows


def diabetes(seeds: list[int]) -> list[dict]:
    """The settings step 4 chose, trained on all of each fold's training rows or on all but
    the last 15 % of them (kept aside as validation data, as Keras' validation_split does)."""
    import keras
    import pandas as pd
    from sklearn.metrics import r2_score, root_mean_squared_error
    from sklearn.model_selection import KFold

    models = _models("diabetes-mlp")
    prepared = _prepared("diabetes-mlp")
    target = (prepared / "target.txt").read_text()
    train = pd.read_csv(prepared / "train.csv")
    X, y = train.drop(columns=target).to_numpy("float32"), train[target].to_numpy("float64")
    best = json.loads((REPO / "portfolio/projects/diabetes-mlp/artifacts/best_params.json")
                      .read_text())
    epochs, batch_size = best.pop("epochs"), best.pop("batch_size")
    rows = []
    for protocol, validation_split in (("all training rows", 0.0),
                                       ("85 %, 15 % kept aside", 0.15)):
        rmse, r2 = [], []
        started = time.perf_counter()
        for seed in seeds:
            for fit_rows, held_out in KFold(n_splits=10, shuffle=True,
                                            random_state=seed).split(X):
                keras.utils.set_random_seed(seed)
                model = models.build_mlp({"n_features_in_": X.shape[1]}, **best,
                                         target_mean=y[fit_rows].mean(),
                                         target_std=y[fit_rows].std())
                model.fit(X[fit_rows], y[fit_rows], epochs=epochs, batch_size=batch_size,
                          validation_split=validation_split, verbose=0)
                pred = model.predict(X[held_out], verbose=0).ravel()
                rmse.append(root_mean_squared_error(y[held_out], pred))
                r2.append(r2_score(y[held_out], pred))
        rows.append({"protocol": protocol, "rmse": statistics.mean(rmse),
                     "rmse_std": statistics.pstdev(rmse), "r2": statistics.mean(r2),
                     "fits": len(rmse), "seconds": time.perf_counter() - started})
        print(rows[-1], flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = ["## Settings chosen on cross-validation", "",
             f"`{result['command']}` ({result['date']}, seeds {result['seeds']}): the "
             "training split of each shipped example only; the test split is not read.", "",
             "Image classification (digits-cnn): the deeper CNN of step 3, 30 epochs, no "
             "augmentation, 3-fold stratified cross-validation per seed.", "",
             "| filters | learning rate | batch size | mean accuracy | std | fits |",
             "|---:|---|---:|---:|---:|---:|"]
    digits_rows = sorted(result["digits"], key=lambda r: -r["mean"])
    for row in digits_rows:
        lines.append(f"| {row['filters']} | {row['schedule']} | {row['batch_size']} | "
                     f"{row['mean']:.4f} | {row['std']:.4f} | {row['fits']} |")
    best = digits_rows[0]
    lines += ["", f"Chosen: {best['filters']} filters, {best['schedule']} learning rate, batch "
              f"size {best['batch_size']}.", "",
              "Regression (diabetes-mlp): the settings step 4 chose, 10-fold cross-validation "
              "per seed.", "",
              "| final network trained on | mean RMSE | std | mean R² | fits |",
              "|---|---:|---:|---:|---:|"]
    diabetes_rows = sorted(result["diabetes"], key=lambda r: r["rmse"])
    for row in diabetes_rows:
        lines.append(f"| {row['protocol']} | {row['rmse']:.2f} | {row['rmse_std']:.2f} | "
                     f"{row['r2']:.3f} | {row['fits']} |")
    lines += ["", f"Chosen: {diabetes_rows[0]['protocol']}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--only", choices=["digits", "diabetes"])
    parser.add_argument("--report", action="store_true",
                        help="write docs/benchmarks.md again from benchmarks/cv_choices.json")
    args = parser.parse_args()
    if args.report:
        result = json.loads(RAW.read_text())
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
        result = json.loads(RAW.read_text()) if RAW.is_file() else {}
        result.update({"command": "python benchmarks/cv_choices.py" + (
            " " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else ""),
            "date": time.strftime("%Y-%m-%d"), "seeds": seeds})
        if args.only in (None, "digits"):
            result["digits"] = digits(seeds)
        if args.only in (None, "diabetes"):
            result["diabetes"] = diabetes(seeds)
        RAW.write_text(json.dumps(result, indent=1) + "\n")
    section = markdown(result)
    print(section)
    write_section("cv-choices", section)


if __name__ == "__main__":
    main()
