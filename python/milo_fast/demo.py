"""The built-in demonstration: train a random forest, save it with milo_fast and with pickle (to bytes, and to
files), load both, check the predictions are bit-identical, and print the figures.

    milo-fast demo [--trees 100] [--samples 20000] [--features 20] [--repeat 5]
"""
from __future__ import annotations

import os
import pickle
import tempfile
import time

import numpy as np


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(trees: int = 100, samples: int = 20000, features: int = 20, repeat: int = 5, seed: int = 0) -> int:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    import milo_fast

    print(f"training RandomForestClassifier(n_estimators={trees}) on {samples} x {features} ...", flush=True)
    X, y = make_classification(n_samples=samples, n_features=features, n_informative=max(2, features // 2),
                               random_state=seed)
    model = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1).fit(X, y)
    nodes = sum(int(e.tree_.node_count) for e in model.estimators_)
    X_new = np.random.default_rng(seed + 1).normal(size=(2000, features))
    expected = {m: getattr(model, m)(X_new) for m in ("predict", "predict_proba", "apply")}
    print(f"  {trees} trees, {nodes:,} nodes")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def measure(label, dumps, loads, save, load, path):
            t_dumps, blob = _best(dumps, repeat)
            t_loads, _ = _best(lambda: loads(blob), repeat)
            del blob
            t_save, _ = _best(lambda: save(path), repeat)
            t_load, loaded = _best(lambda: load(path), repeat)
            same = all(np.array_equal(getattr(loaded, m)(X_new), v) and getattr(loaded, m)(X_new).dtype == v.dtype
                       for m, v in expected.items())
            rows.append((label, t_dumps, t_loads, t_save, t_load, os.path.getsize(path), same))

        def pkl_save(p):
            with open(p, "wb") as f:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)

        def pkl_load(p):
            with open(p, "rb") as f:
                return pickle.load(f)

        measure("pickle", lambda: pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads,
                pkl_save, pkl_load, os.path.join(tmp, "m.pkl"))
        # Like for like: pickle.dump does not fsync, so neither do these (milo_fast.dump does by default).
        measure("milo_fast text", lambda: milo_fast.dumps(model), milo_fast.loads,
                lambda p: milo_fast.dump(model, p, durable=False), milo_fast.load, os.path.join(tmp, "m.json"))
        measure("milo_fast base64", lambda: milo_fast.dumps(model, arrays="base64"), milo_fast.loads,
                lambda p: milo_fast.dump(model, p, arrays="base64", durable=False), milo_fast.load,
                os.path.join(tmp, "m64.json"))
        t_durable, _ = _best(lambda: milo_fast.dump(model, os.path.join(tmp, "d.json")), repeat)

    base_save, base_load = rows[0][1], rows[0][2]
    print()
    print(f"{'':<18} {'in memory (bytes)':>19}  {'files':>19}")
    print(f"{'format':<18} {'save ms':>9} {'load ms':>9}  {'save ms':>9} {'load ms':>9} {'size MB':>9} "
          f"{'save/pickle':>12} {'load/pickle':>12}  outputs")
    for label, tds, tls, ts, tl, size, same in rows:
        print(f"{label:<18} {tds * 1e3:9.1f} {tls * 1e3:9.1f}  {ts * 1e3:9.1f} {tl * 1e3:9.1f} {size / 1e6:9.2f} "
              f"{tds / base_save:12.2f} {tls / base_load:12.2f}  {'bit-identical' if same else 'DIFFERENT'}")
    ok = all(r[-1] for r in rows)
    print()
    print("(ratios from the in-memory figures, best of each; the file figures also hold the page cache's work,\n"
          " which varies from run to run. File saves are without fsync, as pickle.dump; milo_fast.dump's default\n"
          f" durable=True fsyncs the file and its directory: text save {t_durable * 1e3:.1f} ms here)")
    print("predict, predict_proba and apply on 2000 new samples:", "bit-identical after every round trip" if ok
          else "MISMATCH")
    return 0 if ok else 1
