"""The load's compiled shortcuts decide exactly what the Python code beside them decides.

- ``_core.sk_tree_parts_ok`` (the first stage of sk_build_tree, on its own): True only where every one of
  ``TreeHandler.checked_parts``'s checks passes.
- ``_core.sk_build_tree`` (all of TreeHandler.construct for the usual node): builds a Tree only where the Python
  code would build the same one, takes a worker's note only for its own table, and builds nothing otherwise.
- ``_core.sk_tree_estimator_ok`` (validate_tree_estimator): True only where the Python checks pass.
- ``_core.container_items`` (Decoder.decode): the items of a dict whose values are dicts or lists, in order.
- ``classify``'s one-set-operation path for the usual marker node, against its general loop.
- check_parameters' memo of whole parameter sets: a set seen good does not let an equal set of other types in.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import milo_fast
from milo_fast import codec
from milo_fast.errors import ValidationError
from milo_fast.transport import _core as tc, sklearn_trees as skt, tables
from estimator_cases import D, TREE_DEFECTS, break_node_table

core = pytest.importorskip("milo_fast._core")


@pytest.fixture(scope="module")
def tree_node():
    from sklearn.tree import DecisionTreeClassifier
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(D["X"], D["ys"])
    doc = codec.decode(milo_fast.dumps(model, arrays="base64"))
    return doc["data"]["state"]["tree_"]


def _python_verdict(node):
    dec = tc.Decoder(tables())
    try:
        skt.TreeHandler().checked_parts(node, dec, "$", skt._node_dtype())
        return True
    except ValidationError:
        return False


def _variants(node):
    """The node, and nodes with one part changed to something the checks may or may not accept."""
    args, st = node["args"], node["state"]
    n_classes, nodes, values = args[1], st["nodes"], st["values"]
    yield "unchanged", node
    odd_ints = [0, -1, 1, 2, 2**31 - 1, 2**31, 2**63, True, False, 3.0, None, "3", np.int64(3)]
    for i in (0, 2):
        for v in odd_ints:
            a = list(args)
            a[i] = v
            yield f"args[{i}]={v!r}", {**node, "args": a}
    for nc in [n_classes.astype(np.int32), n_classes.astype(np.uint64), n_classes.astype(">i8"),
               n_classes.astype(np.float64), n_classes[:0], np.concatenate([n_classes, n_classes]),
               n_classes * 0, n_classes + 2**31, np.repeat(n_classes, 2)[::2], n_classes.reshape(1, -1),
               list(n_classes), int(n_classes[0])]:
        yield f"n_classes={nc!r}", {**node, "args": [args[0], nc, args[2]]}
    yield "args tuple", {**node, "args": tuple(args)}
    yield "args of 2", {**node, "args": args[:2]}
    for key in ("max_depth", "node_count"):
        for v in odd_ints + [st[key] + 1, st[key] - 1]:
            yield f"{key}={v!r}", {**node, "state": {**st, key: v}}
    yield "state of 3", {**node, "state": {k: v for k, v in st.items() if k != "values"}}
    yield "state of 5", {**node, "state": {**st, "extra": 1}}
    yield "state list", {**node, "state": list(st.items())}
    nd = nodes.dtype
    swapped = np.dtype({"names": list(nd.names), "formats": [nd.fields[n][0].newbyteorder(">") for n in nd.names],
                        "offsets": [nd.fields[n][1] for n in nd.names], "itemsize": nd.itemsize})
    for bad in [nodes[:-1], np.concatenate([nodes, nodes]), nodes.astype(swapped), nodes.view(np.uint8),
                nodes.reshape(1, -1), nodes[::-1], np.zeros(nodes.shape, dtype=[("left_child", "<i8")])]:
        yield f"nodes {bad.dtype} {bad.shape}", {**node, "state": {**st, "nodes": bad}}
    for bad in [values[:-1], values.astype(np.float32), values.astype(">f8"), values.reshape(values.shape[0], -1),
                values[:, :, :1], np.concatenate([values, values], axis=2), values[::-1]]:
        yield f"values {bad.dtype} {bad.shape}", {**node, "state": {**st, "values": bad}}


def test_compiled_tree_check_never_accepts_what_python_refuses(tree_node):
    nd_t = skt._node_dtype()
    accepted = refused = 0
    for what, node in _variants(tree_node):
        fast = core.sk_tree_parts_ok(node.get("args"), node.get("state"), nd_t)
        if fast:
            assert _python_verdict(node), f"compiled check accepts {what}, which checked_parts refuses"
            accepted += 1
        else:
            refused += 1
    assert core.sk_tree_parts_ok(tree_node["args"], tree_node["state"], nd_t)
    assert accepted >= 3 and refused > 60, (accepted, refused)


def test_tree_refused_by_the_shortcut_is_reported_by_the_checks(tree_node):
    bad = {**tree_node, "state": {**tree_node["state"], "max_depth": True}}
    with pytest.raises(ValidationError, match=r"expected a depth at \$\.state\.max_depth"):
        skt.TreeHandler().construct(skt._tree_cls(), bad, tc.Decoder(tables()), "$")


def test_container_items_matches_a_python_loop():
    samples = [{}, {"a": 1}, {"a": [1], "b": {"c": 2}, "d": (3,), "e": "x", "f": None},
               {"x": np.arange(3), "y": [], "z": {}}, {1: [2], (3,): {4: 5}}]

    class L(list):
        pass

    samples.append({"sub": L([1]), "ok": [1]})
    for d in samples:
        want = [(k, v) for k, v in d.items() if type(v) is dict or type(v) is list]
        got = core.container_items(d)
        assert [k for k, _ in got] == [k for k, _ in want]
        assert all(a is b for (_, a), (_, b) in zip(got, want))
    with pytest.raises(TypeError):
        core.container_items([1, 2])


def test_classify_shortcut_agrees_with_its_general_loop():
    kinds = tables().kinds
    keys = ["milo:object", "milo:tuple", "milo:id", "state", "args", "items", "list", "milo:bogus", "x", "milo"]
    checked = 0
    for n in range(1, 4):
        for combo in itertools.permutations(keys, n):
            node = {k: 0 for k in combo}
            outcomes = []
            for f in (lambda: tc.classify(node, kinds, "$"), lambda: tc.classify_general(node, kinds, "$")):
                try:
                    outcomes.append(("ok", f()))
                except ValidationError as e:
                    outcomes.append(("error", str(e)))
            assert outcomes[0] == outcomes[1], node
            checked += 1
    assert checked > 700


@pytest.mark.parametrize("name, good, bad", [("max_depth", 3, 3.0), ("min_samples_split", 2, True),
                                             ("splitter", "best", "bogus")])
def test_parameter_set_memo_tells_types_and_values_apart(name, good, bad):
    from sklearn.tree import DecisionTreeClassifier
    model = DecisionTreeClassifier(random_state=0).fit(D["X"], D["ys"])
    doc = codec.decode(milo_fast.dumps(model, arrays="base64"))
    st = doc["data"]["state"]
    for _ in range(2):  # the second load finds the set in the memo
        milo_fast.loads(codec.encode({**doc, "data": {**doc["data"], "state": {**st, name: good}}}, arrays="base64"))
    with pytest.raises(ValidationError, match=rf"invalid parameter at \$\.data\.state\.{name}"):
        milo_fast.loads(codec.encode({**doc, "data": {**doc["data"], "state": {**st, name: bad}}}, arrays="base64"))


def _tree_defects(node):
    """The node with its node table or depth made wrong in ways only the structural check finds."""
    st = node["state"]
    for what in TREE_DEFECTS:
        bad = st["nodes"].copy()
        break_node_table(bad, node["args"][0], what)
        yield what, {**node, "state": {**st, "nodes": bad}}
    yield "max_depth + 1", {**node, "state": {**st, "max_depth": st["max_depth"] + 1}}
    yield "non-contiguous values", {**node, "state": {**st, "values": np.asfortranarray(st["values"])}}


def _python_build(node, monkeypatch):
    """TreeHandler.construct with the compiled builder off: the Tree, or the ValidationError's message."""
    with monkeypatch.context() as m:
        m.setattr(skt, "_build", None)
        try:
            return skt.TreeHandler().construct(skt._tree_cls(), _copy_node(node), tc.Decoder(tables()), "$")
        except ValidationError as e:
            return str(e)


def _copy_node(node):
    st = node.get("state")
    return {**node, "state": dict(st) if type(st) is dict else st}


def _same_tree(a, b):
    sa, sb = a.__getstate__(), b.__getstate__()
    return (a.__reduce__()[1][0] == b.__reduce__()[1][0] and sa["max_depth"] == sb["max_depth"]
            and sa["node_count"] == sb["node_count"] and np.array_equal(sa["nodes"], sb["nodes"])
            and sa["values"].dtype == sb["values"].dtype and np.array_equal(sa["values"], sb["values"]))


def test_compiled_tree_build_builds_only_what_python_builds(tree_node, monkeypatch):
    nd_t, cls = skt._node_dtype(), skt._tree_cls()
    built = refused = 0
    for what, node in itertools.chain(_variants(tree_node), _tree_defects(tree_node)):
        want = _python_build(node, monkeypatch)
        got = core.sk_build_tree(cls, node.get("args"), _copy_node(node).get("state"), nd_t, None, False)
        if got is None:
            refused += 1
            continue
        assert not isinstance(want, str), f"compiled build accepts {what}, which construct refuses: {want}"
        assert type(got) is cls and _same_tree(got, want), what
        built += 1
    assert built >= 3 and refused > 60, (built, refused)
    for what, node in _tree_defects(tree_node):  # each refused, and construct then names the problem
        if what != "non-contiguous values":
            assert core.sk_build_tree(cls, node["args"], _copy_node(node)["state"], nd_t, None, False) is None, what
            with pytest.raises(ValidationError):
                skt.TreeHandler().construct(cls, _copy_node(node), tc.Decoder(tables()), "$")


def test_compiled_tree_build_uses_a_note_only_for_its_own_table(tree_node):
    nd_t, cls = skt._node_dtype(), skt._tree_cls()
    args, st = tree_node["args"], tree_node["state"]
    nodes, depth = st["nodes"], st["max_depth"]
    feat = int(nodes["feature"][nodes["left_child"] >= 0].max())
    cases = [  # (note, the builder checks the table itself)
        ((nodes, depth, feat), False),
        ((nodes, depth, args[0]), True),           # a feature the tree may not read: checked again
        ((nodes.copy(), depth, feat), True),       # a note for another table
        ((nodes, depth + 1, feat), False),         # the worker's depth is taken: this one is refused
    ]
    for note, checks in cases:
        notes = {id(nodes): note}
        before = core.sk_builder_table_checks()
        tree = core.sk_build_tree(cls, args, dict(st), nd_t, notes, False)
        assert notes == {}, "the note is taken out either way"
        assert core.sk_builder_table_checks() - before == int(checks), note[1:]
        assert (tree is None) == (note[1] != depth), note[1:]
    state = dict(st)
    tree = core.sk_build_tree(cls, args, state, nd_t, None, True)  # consume: the node lets go of its arrays
    assert tree is not None and state["nodes"] is None and state["values"] is None
    assert np.array_equal(tree.__getstate__()["nodes"], nodes)


def _estimator_variants(est):
    d = est.__dict__
    yield "unchanged", d
    for key, values in [
        ("n_features_in_", [d["n_features_in_"] + 1, np.int64(d["n_features_in_"]), np.int32(d["n_features_in_"]),
                            float(d["n_features_in_"]), True, None, str(d["n_features_in_"])]),
        ("n_outputs_", [2, np.int64(1), 1.0, None, True, "1"]),
        ("n_classes_", [int(d["n_classes_"]), d["n_classes_"] + 1, np.float64(d["n_classes_"]), None,
                        [int(d["n_classes_"])], np.uint8(d["n_classes_"])]),
        ("classes_", [list(d["classes_"]), d["classes_"][:-1], d["classes_"].reshape(1, -1), None]),
        ("tree_", [None, "tree", object()]),
    ]:
        for v in values:
            yield f"{key}={v!r}", {**d, key: v}
        yield f"no {key}", {k: v for k, v in d.items() if k != key}


def _python_estimator_verdict(est_cls, d, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(skt, "_estimator_ok", None)
        e = est_cls.__new__(est_cls)
        e.__dict__.update(d)
        try:
            skt.validate_tree_estimator(e, "$")
            return True
        except ValidationError:
            return False


@pytest.mark.parametrize("target", ["ys", "yr", "ym"])
def test_compiled_estimator_check_never_accepts_what_python_refuses(target, monkeypatch):
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    cls = DecisionTreeRegressor if target in ("yr", "ym") else DecisionTreeClassifier
    est = cls(max_depth=3, random_state=0).fit(D["X"], D[target])
    if target == "ym":  # a multi-output tree: classes_ and n_classes_ as a classifier would have them
        est.__dict__.update(n_classes_=np.array([1, 1]), classes_=[np.zeros(1), np.zeros(1)])
    accepted = refused = 0
    for what, d in _estimator_variants(est) if cls is DecisionTreeClassifier else [("unchanged", est.__dict__)]:
        if core.sk_tree_estimator_ok(d, skt._tree_cls()):
            assert _python_estimator_verdict(cls, d, monkeypatch), f"compiled check accepts {what}"
            accepted += 1
        else:
            refused += 1
    if target == "ys":
        assert accepted >= 5 and refused >= 15, (accepted, refused)
    else:  # a regressor (no classes) passes at once; more than one output is left to the Python checks
        assert accepted == (target == "yr") and _python_estimator_verdict(cls, est.__dict__, monkeypatch)


# ------------------------------------------------------------- a tree estimator's state at once (STATE_DECODERS)

@pytest.fixture(scope="module")
def forest():
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=5, max_depth=5, random_state=0).fit(D["X"], D["ys"])


@pytest.fixture(scope="module")
def boosting():  # its trees share one RandomState: each tree's random_state a reference but the first
    from sklearn.ensemble import GradientBoostingClassifier
    return GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=0).fit(D["X"], D["y3"])


def _count_shortcut(monkeypatch):
    """skt._estimator_state counted: [True if it built the state, False if it returned None, ...]."""
    calls = []
    real = skt._estimator_state

    def counted(*a):
        r = real(*a)
        calls.append(r is not None)
        return r

    monkeypatch.setattr(skt, "_estimator_state", counted)
    return calls


def _load_both_ways(blob, monkeypatch):
    """The model loaded with the state shortcut, how many trees it built, and the model loaded by the walk alone."""
    with monkeypatch.context() as m:
        calls = _count_shortcut(m)
        fast = milo_fast.loads(blob)
    with monkeypatch.context() as m:
        m.setattr(tables(), "state_decoders", {})
        walked = milo_fast.loads(blob)
    return fast, calls, walked


def _same_estimator(a, b):
    da, db = a.__dict__, b.__dict__
    assert type(a) is type(b) and list(da) == list(db)
    for k, v in da.items():
        w = db[k]
        if k == "tree_":
            assert _same_tree(v, w), k
        elif isinstance(v, np.random.RandomState):
            sv, sw = v.get_state(), w.get_state()
            assert type(w) is type(v) and all(np.array_equal(x, y) for x, y in zip(sv, sw)), k
        elif isinstance(v, np.ndarray):
            assert type(w) is np.ndarray and v.dtype == w.dtype and np.array_equal(v, w), k
        else:
            assert type(v) is type(w) and v == w, k


@pytest.mark.compiled_codec  # (the shortcut is the compiled core's)
@pytest.mark.parametrize("arrays", ["text", "base64"])
@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("which", ["forest", "boosting"])
def test_tree_estimator_state_at_once_builds_what_the_walk_builds(which, arrays, deferred, request, monkeypatch):
    from milo_fast import document
    model = request.getfixturevalue(which)
    monkeypatch.setattr(document, "DEFER_THREADS", 2 if deferred else 0)
    fast, calls, walked = _load_both_ways(milo_fast.dumps(model, arrays=arrays), monkeypatch)
    trees = np.asarray(model.estimators_, dtype=object).ravel()
    assert calls == [True] * (len(trees) - 1), "every tree but the first (which resolves the Tree class) at once"
    got, walk = (np.asarray(m.estimators_, dtype=object).ravel() for m in (fast, walked))
    for a, b, c in zip(got, walk, trees):
        _same_estimator(a, b)
        _same_estimator(a, c)
    if which == "boosting":  # one RandomState for every tree, as in the model and in the walk's build
        assert all(t.random_state is got[0].random_state for t in got)
        assert all(t.random_state is walk[0].random_state for t in walk)
    X = D["X"][::-1] + 0.25
    assert np.array_equal(fast.predict_proba(X), model.predict_proba(X))


def _estimator_state_variants(st):
    """An estimator's state node, whether the shortcut builds it (else it leaves it to the walk: None, nothing built
    and nothing decoded), and the other containers it hands the Decoder, in order."""
    tree = st["tree_"]
    refused = {**tree, "state": {**tree["state"], "max_depth": 1}}
    yield "unchanged", st, True
    yield "a list value", {**st, "classes_": [0, 1]}, True
    yield "dict values around the tree", {"first": {"milo:ref": 0}, **st, "extra": {}, "last": [[]]}, True
    yield "a list value, and a tree the builder refuses", {"first": [1], **st, "tree_": refused}, False
    yield "a marker key", {**st, "milo:id": 3}, False
    yield "a key holding milo:", {**st, "x milo:y": 1}, False
    yield "a key that is not a str", {**st, 1: 2}, False
    yield "no tree_", {k: v for k, v in st.items() if k != "tree_"}, False
    yield "tree_ a list", {**st, "tree_": [tree]}, False
    yield "tree node with a fourth key", {**st, "tree_": {**tree, "list": []}}, False
    yield "tree node without args", {**st, "tree_": {k: v for k, v in tree.items() if k != "args"}}, False
    yield "tree node of another class", {**st, "tree_": {**tree, "milo:object": "sklearn.tree._tree.Tre"}}, False
    yield "tree node's name not a str", {**st, "tree_": {**tree, "milo:object": 7}}, False
    yield "tree node the builder refuses", {**st, "tree_": refused}, False
    yield "state a list", list(st.items()), False


def test_tree_estimator_state_at_once_builds_nothing_for_other_nodes():
    from sklearn.tree import DecisionTreeClassifier
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(D["X"], D["y3"])  # (string classes: a node)
    st = codec.decode(milo_fast.dumps(model, arrays="base64"))["data"]["state"]
    nd_t, cls = skt._node_dtype(), skt._tree_cls()
    seen = 0
    for what, node, builds in _estimator_state_variants(st):
        tree_state = node["tree_"]["state"] if type(node) is dict and type(node.get("tree_")) is dict else None
        if tree_state is not None:  # (a copy per variant: consume may drop its arrays)
            node = {**node, "tree_": {**node["tree_"], "state": dict(tree_state)}}
        decoded = []

        def decode(v, p):  # the Decoder's place: records what it is given
            decoded.append((v, str(p)))
            return ("decoded", len(decoded))

        got = core.sk_tree_estimator_state(node, skt.TREE, cls, nd_t, None, True, None, None, decode, "$", tc.Path)
        others = [k for k, v in node.items() if k != "tree_" and type(v) in (dict, list)] if builds else []
        assert [p for _, p in decoded] == [f"$.{k}" for k in others], what
        assert all(v is node[k] for (v, _), k in zip(decoded, others)), what
        if not builds:
            assert got is None, what
            if tree_state is not None:  # nothing built: the node keeps its arrays (consume drops them once built)
                assert all(type(node["tree_"]["state"][k]) is np.ndarray for k in ("nodes", "values")), what
            seen += 1
            continue
        assert type(got) is dict and list(got) == list(node) and got is not node, what
        assert all(got[k] is node[k] for k in node if k != "tree_" and k not in others), what
        assert [got[k] for k in others] == [("decoded", i + 1) for i in range(len(others))], what
        assert type(got["tree_"]) is cls and _same_tree(got["tree_"], model.tree_), what
        assert node["tree_"]["state"]["nodes"] is None, "consume: the node lets go of the arrays it built from"
    assert seen == 12


@pytest.mark.compiled_codec  # (the shortcut is the compiled core's)
@pytest.mark.parametrize("defect", ["a list value", "max_depth", "feature_too_large"])
def test_a_broken_forest_tree_gives_the_walks_error(forest, defect, monkeypatch):
    doc = codec.decode(milo_fast.dumps(forest, arrays="base64"))
    st = doc["data"]["state"]["estimators_"][2]["state"]
    tree_state = st["tree_"]["state"]
    if defect == "a list value":
        st["n_outputs_"] = [1]
    elif defect == "max_depth":
        tree_state["max_depth"] += 1
    else:
        tree_state["nodes"] = tree_state["nodes"].copy()
        break_node_table(tree_state["nodes"], st["tree_"]["args"][0], defect)
    blob = codec.encode(doc, arrays="base64")
    errors = []
    for shortcut in (True, False):
        with monkeypatch.context() as m:
            calls = _count_shortcut(m)
            if not shortcut:
                m.setattr(tables(), "state_decoders", {})
            with pytest.raises(ValidationError) as e:
                milo_fast.loads(blob)
            errors.append(str(e.value))
            # the second tree is built at once and the third left to the walk, which raises (the list value: decoded
            # by the Decoder for the shortcut, which builds every tree; the validators raise)
            want = [True] * 4 if defect == "a list value" else [True, False]
            assert calls == (want if shortcut else []), calls
    assert errors[0] == errors[1] and "estimators_[2]" in errors[0], errors


def test_parameter_memo_decides_a_random_state_by_its_type(boosting, monkeypatch):
    from sklearn.tree import DecisionTreeRegressor

    from milo_fast.transport import sklearn_estimators as se
    blob = milo_fast.dumps(boosting)
    milo_fast.loads(blob)  # (the memo learns: a RandomState satisfies DecisionTreeRegressor's random_state)
    asked = []
    real = se._satisfies

    def counted(cls, constraints, name, value):
        asked.append((cls.__name__, name, type(value).__name__))
        return real(cls, constraints, name, value)

    monkeypatch.setattr(se, "_satisfies", counted)
    back = milo_fast.loads(blob)
    assert ("DecisionTreeRegressor", "random_state", "RandomState") not in asked, asked
    assert np.array_equal(back.predict_proba(D["X"]), boosting.predict_proba(D["X"]))
    tree = DecisionTreeRegressor(max_depth=2).fit(D["X"], D["yr"])
    tree.random_state = np.random.default_rng(0)  # another type: the constraints still decide, and refuse it
    with pytest.raises(ValidationError, match=r"invalid parameter at \$\.data\.state\.random_state"):
        milo_fast.loads(milo_fast.dumps(tree))
    assert ("DecisionTreeRegressor", "random_state", "Generator") in asked
