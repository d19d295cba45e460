"""Regression defaults on scikit-learn's diabetes data (no download): 5-fold CV R² of
``xmlp.sklearn.MLPRegressor()`` with its defaults beside scikit-learn's ``MLPRegressor`` (enough
iterations to converge; raw, and with scaled X and y), its early-stopping variant and ``RidgeCV``,
on the same folds, and the fit time of each. ``--seeds`` picks the KFold shuffles: the defaults
were chosen on seeds 1 and 2 and are confirmed on 0 (the folds the issue quotes).

    python benchmarks/bench_regression.py --seeds 0
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPRegressor as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xmlp.sklearn import MLPRegressor


def models() -> dict[str, object]:
    return {
        "xmlp MLPRegressor() (defaults)": MLPRegressor(random_state=0),
        "sklearn MLPRegressor(max_iter=2000)": SkMLP(max_iter=2000, random_state=0),
        "sklearn, scaled X and y": TransformedTargetRegressor(
            make_pipeline(StandardScaler(), SkMLP(max_iter=2000, random_state=0)), transformer=StandardScaler()),
        "sklearn early_stopping=True": SkMLP(max_iter=2000, early_stopping=True, random_state=0),
        "RidgeCV": RidgeCV(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--folds", type=int, default=5, help="folds of each KFold (default 5)")
    args = parser.parse_args()
    x, y = load_diabetes(return_X_y=True)
    print(f"diabetes ({x.shape[0]} rows, {x.shape[1]} features), KFold({args.folds}, shuffle=True, random_state=s) for s in "
          f"{args.seeds}")
    print(f"{'model':38s} {'mean R²':>8s} {'min–max over folds':>20s} {'fit s (median)':>15s}")
    for name, model in models().items():
        scores, times = [], []
        for seed in args.seeds:
            for train, test in KFold(args.folds, shuffle=True, random_state=seed).split(x):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t = time.perf_counter()
                    model.fit(x[train], y[train])
                    times.append(time.perf_counter() - t)
                scores.append(model.score(x[test], y[test]))
        print(f"{name:38s} {np.mean(scores):8.4f} {min(scores):9.4f} – {max(scores):7.4f} {np.median(times):15.3f}")


if __name__ == "__main__":
    main()
