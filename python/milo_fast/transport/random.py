"""numpy random generators, by their documented state (``get_state`` / ``bit_generator.state``):

    RandomState     {"milo:object": "numpy.random.mtrand.RandomState", "state": <get_state(legacy=False)>}
    Generator       {"milo:object": "numpy.random._generator.Generator", "state": <bit_generator.state>}
    MT19937, PCG64, PCG64DXSM, Philox, SFC64
                    {"milo:object": "numpy.random._pcg64.PCG64", "state": <state>}

The bit generator named inside a state must be one of those five. The seed sequence is not kept (it only
matters for ``spawn``): the next numbers drawn are identical.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path

BIT_GENERATORS = {"MT19937": "numpy.random._mt19937.MT19937", "PCG64": "numpy.random._pcg64.PCG64",
                  "PCG64DXSM": "numpy.random._pcg64.PCG64DXSM", "Philox": "numpy.random._philox.Philox",
                  "SFC64": "numpy.random._sfc64.SFC64"}


def _bit_generator(state, path):
    expect(type(state) is dict and type(state.get("bit_generator")) is str and state["bit_generator"] in BIT_GENERATORS,
           path,
           f"a bit generator state naming one of {sorted(BIT_GENERATORS)}")
    bg = getattr(np.random, state["bit_generator"])()
    try:
        bg.state = state
    except (ValueError, TypeError, KeyError) as e:
        raise ValidationError(f"bad bit generator state at {path}: {e}") from None
    return bg


def _decoded_state(node, dec, path):
    expect(set(node) <= {"milo:object", "state", "milo:id"} and "state" in node, path, "a 'state'")
    return dec.decode(node["state"], key_path(path, "state")), key_path(path, "state")


class RandomStateHandler(ObjectHandler):
    classes = ("numpy.random.mtrand.RandomState",)
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        node["state"] = enc.encode(obj.get_state(legacy=False), key_path(path, "state"))

    def construct(self, cls, node, dec, path):
        st, p = _decoded_state(node, dec, path)
        expect(type(st) is dict and type(st.get("bit_generator")) is str and st["bit_generator"] in BIT_GENERATORS
               and "has_gauss" in st, p,
               f"a RandomState state naming one of {sorted(BIT_GENERATORS)}")
        bg = getattr(np.random, st["bit_generator"])()
        rs = np.random.RandomState(bg)
        try:
            rs.set_state(st)
        except (ValueError, TypeError, KeyError) as e:
            raise ValidationError(f"bad RandomState state at {p}: {e}") from None
        return rs


class GeneratorHandler(ObjectHandler):
    classes = ("numpy.random._generator.Generator",)
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        node["state"] = enc.encode(obj.bit_generator.state, key_path(path, "state"))

    def construct(self, cls, node, dec, path):
        st, p = _decoded_state(node, dec, path)
        return np.random.Generator(_bit_generator(st, p))


class BitGeneratorHandler(ObjectHandler):
    classes = tuple(BIT_GENERATORS.values())
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        node["state"] = enc.encode(obj.state, key_path(path, "state"))

    def construct(self, cls, node, dec, path):
        st, p = _decoded_state(node, dec, path)
        bg = _bit_generator(st, p)
        expect(type(bg) is cls, p, f"the state of a {cls.__name__}")
        return bg


TRANSPORTERS: list = []
HANDLERS = [RandomStateHandler(), GeneratorHandler(), BitGeneratorHandler()]
