"""The load's compiled shortcuts decide exactly what the Python code beside them decides.

- ``_core.sk_tree_parts_ok`` (TreeHandler.construct): True only where every one of ``checked_parts``'s checks
  passes; False sends construct to those checks, which then name what is wrong.
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
from estimator_cases import D

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
