"""scikit-learn's compiled loss objects, rebuilt by calling their class with their (numeric) parameters:

    {"milo:object": "sklearn._loss._loss.CyHalfTweedieLoss", "args": [power]}
    {"milo:object": "sklearn.linear_model._sgd_fast.Hinge", "args": [threshold]}

These classes reduce to ``(cls, args)``; the args are floats (a quantile, a Tweedie power, a margin...).
The Python loss wrappers around them (sklearn._loss.loss.HalfBinomialLoss ...) are plain classes, written by
the generic object transporter.
"""
from __future__ import annotations

from ..errors import ExportError
from ._core import ObjectHandler, expect, key_path

CY_LOSSES = tuple(f"sklearn._loss._loss.{n}" for n in (
    "CyAbsoluteError", "CyExponentialLoss", "CyHalfBinomialLoss", "CyHalfGammaLoss", "CyHalfMultinomialLoss",
    "CyHalfPoissonLoss", "CyHalfSquaredError", "CyHalfTweedieLoss", "CyHalfTweedieLossIdentity", "CyHuberLoss",
    "CyPinballLoss"))
SGD_LOSSES = tuple(f"sklearn.linear_model._sgd_fast.{n}" for n in (
    "EpsilonInsensitive", "Hinge", "ModifiedHuber", "SquaredEpsilonInsensitive", "SquaredHinge"))


class ReduceArgsHandler(ObjectHandler):
    classes = CY_LOSSES + SGD_LOSSES
    aux = frozenset({"args"})

    def encode(self, obj, enc, path, node):
        red = obj.__reduce__()
        if (len(red) == 2 and getattr(red[0], "__name__", "").startswith("__pyx_unpickle_") and len(red[1]) == 3
                and red[1][0] is type(obj) and red[1][2] in ((), None)):
            return  # Cython's own pickling of a parameterless class: rebuilt by calling it without arguments
        if len(red) != 2 or red[0] is not type(obj) or not all(type(a) in (int, float) for a in red[1]):
            raise ExportError(f"unexpected reduction of {type(obj).__name__} at {path}")
        if red[1]:
            node["args"] = [float(a) for a in red[1]]

    def construct(self, cls, node, dec, path):
        args = node.get("args", [])
        expect(type(args) is list and len(args) <= 2 and all(type(a) is float for a in args), key_path(path, "args"),
               "a list of at most 2 floats")
        try:
            return cls(*args)
        except (TypeError, ValueError) as e:
            from ..errors import ValidationError
            raise ValidationError(f"cannot build {cls.__name__} at {path}: {e}") from None


TRANSPORTERS: list = []
HANDLERS = [ReduceArgsHandler()]
