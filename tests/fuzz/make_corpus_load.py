"""Write the seed corpus of fuzz_load.py: small real documents of several model kinds, in milo_fast's format (text
and base64 arrays, one zstd and one gzip) and in PyMilo's.

    python tests/fuzz/make_corpus_load.py          # rewrites tests/fuzz/corpus_load/

Models are fitted on a few rows of seeded data so that documents stay small (mutations then reach every part);
the output is deterministic for a given scikit-learn / numpy.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "corpus_load"
sys.path.insert(0, str(HERE.parent.parent / "python"))

import milo_fast  # noqa: E402


def models():
    from sklearn import (cluster, ensemble, linear_model, naive_bayes, neighbors, neural_network, pipeline,
                         preprocessing, svm, tree)
    rng = np.random.RandomState(0)
    X = np.round(rng.randn(24, 3), 2)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    y3 = np.digitize(X[:, 0], [-0.5, 0.5])
    yr = np.round(X @ [1.0, -2.0, 0.5], 2)
    Xc = X.copy()
    Xc[:, 0] = rng.randint(0, 3, 24)
    return {
        "linreg": linear_model.LinearRegression().fit(X, yr),
        "logreg": linear_model.LogisticRegression().fit(X, y3),
        "sgd_avg": linear_model.SGDClassifier(average=True, max_iter=5, tol=None, random_state=0).fit(X, y),
        "tree": tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y3),
        "tree_reg": tree.DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, yr),
        "forest": ensemble.RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y),
        "gb": ensemble.GradientBoostingClassifier(n_estimators=2, max_depth=1, random_state=0).fit(X, y3),
        "hgb": ensemble.HistGradientBoostingRegressor(max_iter=2, max_depth=2).fit(X, yr),
        "hgb_cat": ensemble.HistGradientBoostingClassifier(max_iter=2, max_depth=2, categorical_features=[0]
                                                           ).fit(Xc, y),
        "iforest": ensemble.IsolationForest(n_estimators=2, max_samples=8, max_features=2, random_state=0).fit(X),
        "knn_kd": neighbors.KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree", leaf_size=4).fit(X, y),
        "knn_ball": neighbors.KNeighborsRegressor(n_neighbors=2, algorithm="ball_tree", leaf_size=4).fit(X, yr),
        "kde": neighbors.KernelDensity(metric="manhattan", leaf_size=4).fit(X),
        "svc": svm.SVC(probability=True, random_state=0).fit(X, y3),
        "svr": svm.SVR().fit(X, yr),
        "kmeans": cluster.KMeans(n_clusters=2, n_init=1, random_state=0).fit(X),
        "minibatch_kmeans": cluster.MiniBatchKMeans(n_clusters=2, n_init=1, random_state=0).fit(X),
        "birch": cluster.Birch(n_clusters=2, threshold=0.3, branching_factor=4).fit(X),
        "mlp": neural_network.MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, yr),
        "nb": naive_bayes.GaussianNB().fit(X, y),
        "pipeline": pipeline.make_pipeline(preprocessing.FunctionTransformer(np.log1p),
                                           preprocessing.StandardScaler(), linear_model.Ridge()).fit(np.abs(X), yr),
    }


def main() -> None:
    warnings.simplefilter("ignore")
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    written = 0
    fitted = models()
    for name, model in fitted.items():
        docs = {f"{name}.text.json": milo_fast.dumps(model, arrays="text"),
                f"{name}.b64.json": milo_fast.dumps(model, arrays="base64")}
        try:
            docs[f"{name}.pymilo.json"] = milo_fast.dumps(model, format="pymilo")
        except milo_fast.ExportError:
            pass  # not in PyMilo's tables, or not representable there
        for fname, blob in docs.items():
            (OUT / fname).write_bytes(blob)
            written += 1
    for name, compress in (("linreg.zst", "zstd"), ("tree.gz", "gzip")):
        m = fitted[name.split(".")[0]]
        (OUT / f"{name}").write_bytes(milo_fast.dumps(m, arrays="base64", compress=compress))
        written += 1
    print(f"{written} documents in {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
