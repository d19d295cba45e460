"""Every task on data nobody here chose (issue #22, Deliver 8): data sets bundled with
scikit-learn (no download), cross-validated, xmlp's estimator defaults beside scikit-learn's
``neural_network`` defaults (enough iterations to converge; with ``StandardScaler``, as a careful
user runs them) and a plain PyTorch MLP of xmlp's shape and recipe.

- regression: diabetes, ``KFold(5, shuffle=True, random_state=s)``, R²;
- classification: digits, wine, iris, breast_cancer, ``StratifiedKFold(5, shuffle=True,
  random_state=s)``, accuracy and log-loss;
- multi-label: ``make_multilabel_classification(1000, 20 features, 5 labels, random_state=0)``,
  KFold, subset accuracy, Hamming loss and the mean binary log-loss over labels.

Each row: the mean over folds (and seeds), min–max over folds, and the median fit time.

    python benchmarks/bench_tasks.py --seeds 0
    python benchmarks/bench_tasks.py --sets digits wine --seeds 1 2 --xmlp '{"epochs": 100}'
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any, Callable

import numpy as np
from _harness import header, skipped
from sklearn import datasets
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import hamming_loss, log_loss
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xmlp.sklearn import MLPClassifier, MLPRegressor

CLASSIFICATION = ("digits", "wine", "iris", "breast_cancer")


def load(name: str) -> tuple[str, np.ndarray, np.ndarray]:
    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
        return "regression", x, y
    if name == "multilabel":
        x, y = datasets.make_multilabel_classification(n_samples=1000, n_features=20, n_classes=5, random_state=0)
        return "multilabel", x, y
    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return "classification", x, y


class TorchMLP(BaseEstimator):  # type: ignore[misc]
    """A plain PyTorch MLP, written as a careful user would: ``StandardScaler`` on X (and y for
    a regression), ``nn.Sequential`` of the same layers as xmlp's estimator, its optimizer,
    learning rate, weight decay (``torch.optim``'s L2), epochs and batch size, a seeded shuffle per
    epoch, ``CrossEntropyLoss`` / ``BCEWithLogitsLoss`` / ``MSELoss``."""

    def __init__(self, task: str = "classification", reference: Any = None):
        self.task, self.reference = task, reference

    def fit(self, x: np.ndarray, y: np.ndarray) -> "TorchMLP":
        import torch

        p = self.reference.get_params()
        torch.manual_seed(0)
        self.scaler_ = StandardScaler().fit(x)
        xt = torch.tensor(self.scaler_.transform(x), dtype=torch.float32)
        if self.task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            yt, n_out, loss = torch.tensor(codes), len(self.classes_), torch.nn.CrossEntropyLoss()
        elif self.task == "multilabel":
            yt, n_out, loss = torch.tensor(y, dtype=torch.float32), y.shape[1], torch.nn.BCEWithLogitsLoss()
        else:
            self.y_mean_, self.y_std_ = y.mean(), y.std()
            yt = torch.tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)[:, None]
            n_out, loss = 1, torch.nn.MSELoss()
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "gelu": torch.nn.GELU}
        layers: list[torch.nn.Module] = []
        width = x.shape[1]
        for units in p["hidden_layer_sizes"]:
            layers += [torch.nn.Linear(width, units), act[p["activation"]]()]
            width = units
        self.net_ = torch.nn.Sequential(*layers, torch.nn.Linear(width, n_out))
        opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[p["optimizer"]]
        lr = p["learning_rate"] or {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.0314}[p["optimizer"]]
        opt = opt_cls(self.net_.parameters(), lr=lr, weight_decay=p["weight_decay"])
        gen = torch.Generator().manual_seed(0)
        for _ in range(p["epochs"]):
            for idx in torch.randperm(len(xt), generator=gen).split(p["batch_size"]):
                opt.zero_grad()
                loss(self.net_(xt[idx]), yt[idx]).backward()
                opt.step()
        return self

    def _out(self, x: np.ndarray) -> Any:
        import torch

        with torch.no_grad():
            return self.net_(torch.tensor(self.scaler_.transform(x), dtype=torch.float32))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = self._out(x)
        return (out.softmax(1) if self.task == "classification" else out.sigmoid()).double().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return self._out(x).double().numpy()[:, 0] * self.y_std_ + self.y_mean_
        p = self.predict_proba(x)
        return self.classes_[p.argmax(1)] if self.task == "classification" else (p > 0.5).astype(int)


def models(task: str, xmlp_params: dict[str, Any]) -> dict[str, Any]:
    if task == "regression":
        ours: Any = MLPRegressor(random_state=0, **xmlp_params)
        sk = {"sklearn MLPRegressor(max_iter=2000)": SkRegressor(max_iter=2000, random_state=0)}
    else:
        ours = MLPClassifier(random_state=0, **xmlp_params)
        sk = {"sklearn MLPClassifier(max_iter=1000), scaled": make_pipeline(
            StandardScaler(), SkClassifier(max_iter=1000, random_state=0))}
    return {"xmlp defaults" + (f" {json.dumps(xmlp_params)}" if xmlp_params else ""): ours, **sk,
            "PyTorch MLP, xmlp's shape and recipe": TorchMLP(task, ours)}


def scores(task: str, model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if task == "regression":
        pred = model.predict(x)
        return {"R²": 1 - float(np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))}
    p = np.clip(np.asarray(model.predict_proba(x), dtype=np.float64), 1e-15, 1 - 1e-15)
    if task == "classification":
        p /= p.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 within 1e-7: scikit-learn wants exactly
        return {"accuracy": float(np.mean(model.predict(x) == y)), "log-loss": log_loss(y, p, labels=np.unique(y))}
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))  # the mean binary log-loss over labels and rows
    pred = np.asarray(model.predict(x))
    return {"subset acc": float(np.mean(np.all(pred == y, axis=1))), "Hamming": hamming_loss(y, pred),
            "log-loss": float(bce)}


def run(name: str, seeds: list[int], folds: int, xmlp_params: dict[str, Any],
        only: Callable[[str], bool] = lambda _: True) -> None:
    task, x, y = load(name)
    splitter = StratifiedKFold if task == "classification" else KFold
    print(f"\n{name}: {task}, {x.shape[0]} rows, {x.shape[1]} features; {splitter.__name__}({folds}, shuffle=True, "
          f"random_state=s) for s in {seeds}")
    first = True
    for label, model in models(task, xmlp_params).items():
        if not only(label):
            continue
        if isinstance(model, TorchMLP):
            try:
                import torch  # noqa: F401
            except ImportError:
                skipped(label, "torch is not installed")
                continue
        got: dict[str, list[float]] = {}
        times = []
        for seed in seeds:
            for train, test in splitter(folds, shuffle=True, random_state=seed).split(x, y if task != "multilabel" else None):
                fitted = clone(model)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter
                    t = time.perf_counter()
                    fitted.fit(x[train], y[train])
                    times.append(time.perf_counter() - t)
                for key, value in scores(task, fitted, x[test], y[test]).items():
                    got.setdefault(key, []).append(value)
        if first:
            print(f"{'model':48s}" + "".join(f"{k + ' (min–max)':>28s}" for k in got) + f"{'fit s':>8s}")
            first = False
        print(f"{label[:48]:48s}" + "".join(f"{np.mean(v):>10.4f} ({min(v):.4f}–{max(v):.4f})" for v in got.values())
              + f"{np.median(times):8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["diabetes", *CLASSIFICATION, "multilabel"],
                        choices=["diabetes", *CLASSIFICATION, "multilabel"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="the CV shuffles (default 0)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--xmlp", type=json.loads, default={}, metavar="JSON",
                        help="parameters of the xmlp estimator that replace its defaults (for choosing them)")
    parser.add_argument("--only", nargs="+", help="rows whose label starts with one of these (e.g. xmlp sklearn)")
    args = parser.parse_args()
    header("xmlp estimators' defaults on scikit-learn's bundled data, every task")
    for name in args.sets:
        run(name, args.seeds, args.folds, args.xmlp,
            (lambda label: any(label.startswith(o) for o in args.only)) if args.only else (lambda _: True))


if __name__ == "__main__":
    main()
