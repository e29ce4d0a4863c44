"""What loading remembers between objects and between loads must never let a check be skipped.

A load decides once per class what its name allows (Decoder.plans), the allow-list remembers names its fixed
lists allow (trust.is_trusted), and a forest's trees are checked one by one: the last tree of a forest is refused
as surely as the first, and a name trusted for one load is not trusted by the next."""
from __future__ import annotations

import numpy as np
import pytest

import milo_fast
from milo_fast import codec, transport, trust
from estimator_cases import D

N_TREES = 6


@pytest.fixture(scope="module")
def forest_tree():
    from sklearn.ensemble import RandomForestClassifier
    model = RandomForestClassifier(n_estimators=N_TREES, max_depth=5, random_state=0).fit(D["X"], D["ys"])
    return model, codec.decode(milo_fast.dumps(model, arrays="base64"))


def _reload(doc, **kw):
    return milo_fast.loads(codec.encode(doc, arrays="base64"), **kw)


def _tree_state(doc, i):
    return doc["data"]["state"]["estimators_"][i]["state"]["tree_"]["state"]


def test_unaltered_forest_loads(forest_tree):
    model, doc = forest_tree
    loaded = _reload(doc)
    assert np.array_equal(loaded.predict_proba(D["X_new"]), model.predict_proba(D["X_new"]))


def test_only_a_consumed_document_gives_its_tree_tables_away(forest_tree):
    # load/loads build from a document of their own (consume=True): each tree's tables are dropped once the Tree
    # has copied them, so the next tree reuses their memory. A document built again (Import.to_model) keeps them.
    model, doc = forest_tree
    own = codec.decode(codec.encode(doc, arrays="base64"))
    built = [transport.from_tree(own["data"], root="$.data") for _ in range(2)]
    assert all(type(_tree_state(own, i)[k]) is np.ndarray for i in range(N_TREES) for k in ("nodes", "values"))
    built.append(transport.from_tree(own["data"], root="$.data", consume=True))
    assert all(_tree_state(own, i)[k] is None for i in range(N_TREES) for k in ("nodes", "values"))
    for m in built:
        assert np.array_equal(m.predict_proba(D["X_new"]), model.predict_proba(D["X_new"]))


@pytest.mark.parametrize("i", [0, N_TREES - 1])
def test_every_tree_table_is_checked(forest_tree, i):
    _, doc = forest_tree
    st = _tree_state(doc, i)
    nodes = st["nodes"].copy()
    nodes["left_child"][0] = nodes.shape[0]  # out of range
    st_bad = dict(st, nodes=nodes)
    doc["data"]["state"]["estimators_"][i]["state"]["tree_"]["state"] = st_bad
    try:
        with pytest.raises(milo_fast.ValidationError, match=rf"estimators_\[{i}\]\.state\.tree_\.state\.nodes") as e:
            _reload(doc)
        assert "out of range" in str(e.value)  # compiled and pure-Python checks word the rest differently
    finally:
        doc["data"]["state"]["estimators_"][i]["state"]["tree_"]["state"] = st


@pytest.mark.parametrize("i", [0, N_TREES - 1])
def test_every_tree_depth_is_checked(forest_tree, i):
    _, doc = forest_tree
    st = _tree_state(doc, i)
    doc["data"]["state"]["estimators_"][i]["state"]["tree_"]["state"] = dict(st, max_depth=st["max_depth"] - 1)
    try:
        with pytest.raises(milo_fast.ValidationError,
                           match=rf"levels deep at \$\.data\.state\.estimators_\[{i}\]\.state\.tree_\.state\.max_depth"):
            _reload(doc)
    finally:
        doc["data"]["state"]["estimators_"][i]["state"]["tree_"]["state"] = st


def test_every_tree_width_is_checked_by_the_validators(forest_tree):
    _, doc = forest_tree
    est = doc["data"]["state"]["estimators_"][N_TREES - 1]["state"]
    doc["data"]["state"]["estimators_"][N_TREES - 1]["state"] = dict(est, n_features_in_=est["n_features_in_"] + 1)
    try:
        with pytest.raises(milo_fast.ValidationError, match=rf"estimators_\[{N_TREES - 1}\]\.state\.n_features_in_"):
            _reload(doc)
    finally:
        doc["data"]["state"]["estimators_"][N_TREES - 1]["state"] = est


def test_a_later_node_of_another_class_is_audited(forest_tree):
    _, doc = forest_tree
    node = doc["data"]["state"]["estimators_"][N_TREES - 1]
    doc["data"]["state"]["estimators_"][N_TREES - 1] = dict(node, **{"milo:object": "subprocess.Popen"})
    try:
        with pytest.raises(milo_fast.UntrustedTypeError, match=rf"subprocess\.Popen at .*estimators_\[{N_TREES - 1}\]"):
            _reload(doc)
    finally:
        doc["data"]["state"]["estimators_"][N_TREES - 1] = node


def test_a_later_node_of_a_refused_class_is_refused(forest_tree):
    # the same allowed-but-unbuildable class at a second place: refused there too, not taken from a cache
    _, doc = forest_tree
    tree_node = doc["data"]["state"]["estimators_"][1]["state"]["tree_"]
    doc["data"]["state"]["estimators_"][1]["state"]["tree_"] = dict(tree_node, **{"milo:object": "builtins.bytes"})
    try:
        with pytest.raises(milo_fast.LoadError):
            _reload(doc)
    finally:
        doc["data"]["state"]["estimators_"][1]["state"]["tree_"] = tree_node


class _Holder:
    pass


def test_trusted_names_are_not_remembered_between_loads():
    name = f"{__name__}._Holder"
    h = _Holder()
    h.x = 1
    tree = transport.to_tree(h, trusted=[name])
    assert transport.from_tree(tree, trusted=[name]).x == 1
    with pytest.raises(milo_fast.UntrustedTypeError):
        transport.from_tree(tree)
    assert trust.is_trusted("os.system", trusted=["os.system"])
    assert not trust.is_trusted("os.system")
    assert trust.is_trusted(name, trusted=[name]) and not trust.is_trusted(name)


def test_plain_dict_keys_that_merely_contain_the_marker_prefix():
    data = {"a milo:b": 1, "x": {"ymilo:z": [1, 2]}}
    assert transport.from_tree(transport.to_tree(data)) == data
    with pytest.raises(milo_fast.ValidationError, match="unknown marker 'milo:nope'"):
        transport.from_tree({"a": {"milo:nope": 1}})
    with pytest.raises(milo_fast.ValidationError, match="two marker keys"):
        transport.from_tree({"milo:tuple": [], "milo:set": []})


def test_each_tree_parameters_are_checked(forest_tree):
    _, doc = forest_tree
    i = N_TREES - 1
    est = doc["data"]["state"]["estimators_"][i]["state"]
    _reload(doc)  # every parameter value of the trees seen and found good
    doc["data"]["state"]["estimators_"][i]["state"] = dict(est, max_features="bogus")
    try:
        with pytest.raises(milo_fast.ValidationError,
                           match=rf"invalid parameter at \$\.data\.state\.estimators_\[{i}\]\.state\.max_features"):
            _reload(doc)
    finally:
        doc["data"]["state"]["estimators_"][i]["state"] = est


@pytest.mark.parametrize("name, good, bad", [("bootstrap", True, 1), ("max_depth", 5, 5.0), ("verbose", 0, False)])
def test_known_good_parameter_values_are_told_apart_by_type(forest_tree, name, good, bad):
    # True == 1 == 1.0: a value remembered as good must not let an equal value of another type through
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
    from sklearn.ensemble import RandomForestClassifier
    _, doc = forest_tree
    st = doc["data"]["state"]
    _reload({**doc, "data": {**doc["data"], "state": dict(st, **{name: good})}})
    try:
        validate_parameter_constraints(RandomForestClassifier._parameter_constraints, {name: bad}, caller_name="x")
    except InvalidParameterError:
        with pytest.raises(milo_fast.ValidationError, match=rf"invalid parameter at \$\.data\.state\.{name}"):
            _reload({**doc, "data": {**doc["data"], "state": dict(st, **{name: bad})}})
    else:
        _reload({**doc, "data": {**doc["data"], "state": dict(st, **{name: bad})}})


def test_parameter_check_agrees_with_scikit_learn_everywhere():
    # check_parameters decides with the constraint objects made once (_satisfies); scikit-learn's
    # validate_parameter_constraints must decide the same for every parameter of every estimator
    from sklearn.utils import all_estimators
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
    from milo_fast.transport.sklearn_estimators import _satisfies
    values = [None, True, False, 0, 1, -1, 2, 10**12, 0.0, -0.0, 0.5, 1.0, -2.5, float("nan"), float("inf"), "auto",
              "sqrt", "log2", "gini", "rbf", "bogus", "", np.random.RandomState(0), np.int64(3), np.float64(0.5),
              [1, 2], {"a": 1}, (1,), np.arange(3), print]
    checked = 0
    for _, cls in all_estimators():
        constraints = getattr(cls, "_parameter_constraints", None)
        if not isinstance(constraints, dict):
            continue
        for name in constraints:
            for v in values:
                try:
                    validate_parameter_constraints(constraints, {name: v}, caller_name=cls.__name__)
                    ok = True
                except InvalidParameterError:
                    ok = False
                assert _satisfies(cls, constraints, name, v) == ok, (cls.__name__, name, v)
                checked += 1
    assert checked > 10000
