"""Python built-in values: containers, bytes, complex, slices, ranges, references, and classes used as values.

    list                      [v, ...]                                  (plain JSON)
    dict, str keys            {k: v, ...}                               (plain JSON, unless a key starts with
                                                                         "milo" or "pymiloed")
    dict, other keys          {"milo:dict": [[k, v], ...]}
    tuple                     {"milo:tuple": [v, ...]}
    set / frozenset           {"milo:set": [...]} / {"milo:frozenset": [...]}
    OrderedDict / Counter     {"milo:odict": [[k, v], ...]} / {"milo:counter": [[k, n], ...]}
    defaultdict               {"milo:defaultdict": [[k, v], ...], "factory": <type or function node>}
    bytes / bytearray         {"milo:bytes": "<base64>"} / {"milo:bytearray": "<base64>"}
    complex                   {"milo:complex": [re, im]}
    slice / range             {"milo:slice": [start, stop, step]} / {"milo:range": [start, stop, step]}
    a class                   {"milo:type": "module.QualName"}   (resolved through the allow-list)
    a shared value            {"milo:ref": n} ; {"milo:shared": <list or array node>, "milo:id": n}
"""
from __future__ import annotations

import base64
import binascii
from collections import Counter, OrderedDict, defaultdict

from ..errors import ExportError, ValidationError
from ._core import (REF, RESERVED_PREFIXES, SHARED, Transporter, expect, key_path, lookup_by_name,
                    qualified_name)


# Values Encoder.encode returns as they are (exact types): containers skip the call and the path for them.
_FINAL = frozenset((str, int, float, bool, type(None)))
_STR_ONLY = frozenset((str,))


def _pairs(obj, enc, path):
    return [[enc.encode(k, key_path(key_path(path, i), 0)), enc.encode(v, key_path(key_path(path, i), 1))]
            for i, (k, v) in enumerate(obj.items())]


def _fill_pairs(target, pairs, dec, path):
    expect(type(pairs) is list, path, "a list of [key, value] pairs")
    for i, kv in enumerate(pairs):
        expect(type(kv) is list and len(kv) == 2, key_path(path, i), "a [key, value] pair")
        k = dec.decode(kv[0], key_path(key_path(path, i), 0))
        try:
            hash(k)
        except TypeError:
            raise ValidationError(f"unhashable dict key at {path}[{i}][0]") from None
        target[k] = dec.decode(kv[1], key_path(key_path(path, i), 1))
    return target


class ListT(Transporter):
    types = (list,)
    memo = True

    def encode(self, obj, enc, path):
        e = enc.encode
        return [v if type(v) in _FINAL else e(v, key_path(path, i)) for i, v in enumerate(obj)]


class DictT(Transporter):
    kind = "milo:dict"
    types = (dict,)
    memo = True

    def encode(self, obj, enc, path):
        try:  # most dicts (an estimator's attributes) have only str keys holding no "milo": told at C speed
            plain = "milo" not in "\0".join(obj) and _STR_ONLY.issuperset(map(type, obj))  # (both prefixes hold it)
        except TypeError:  # a key that is not a str
            plain = False
        if not plain:
            for k in obj:
                if type(k) is not str or k.startswith(RESERVED_PREFIXES):
                    return {self.kind: _pairs(obj, enc, key_path(path, self.kind))}
        e = enc.encode
        return {k: v if type(v) in _FINAL else e(v, key_path(path, k)) for k, v in obj.items()}

    def decode(self, node, dec, path):
        out: dict = {}
        dec.register(node, out, path)
        return _fill_pairs(out, node[self.kind], dec, key_path(path, self.kind))


class OrderedDictT(Transporter):
    kind = "milo:odict"
    types = (OrderedDict,)
    memo = True

    def encode(self, obj, enc, path):
        return {self.kind: _pairs(obj, enc, key_path(path, self.kind))}

    def decode(self, node, dec, path):
        out = OrderedDict()
        dec.register(node, out, path)
        return _fill_pairs(out, node[self.kind], dec, key_path(path, self.kind))


class CounterT(OrderedDictT):
    kind = "milo:counter"
    types = (Counter,)

    def decode(self, node, dec, path):
        out = Counter()
        dec.register(node, out, path)
        return _fill_pairs(out, node[self.kind], dec, key_path(path, self.kind))


class DefaultDictT(Transporter):
    kind = "milo:defaultdict"
    aux = frozenset({"factory"})
    types = (defaultdict,)
    memo = True

    def encode(self, obj, enc, path):
        node = {self.kind: None, "factory": enc.encode(obj.default_factory, key_path(path, "factory"))}
        node[self.kind] = _pairs(obj, enc, key_path(path, self.kind))
        return node

    def decode(self, node, dec, path):
        factory = dec.decode(node.get("factory"), key_path(path, "factory"))
        expect(factory is None or callable(factory), key_path(path, "factory"), "a type or function")
        out = defaultdict(factory)
        dec.register(node, out, path)
        return _fill_pairs(out, node[self.kind], dec, key_path(path, self.kind))


class TupleT(Transporter):
    kind = "milo:tuple"
    types = (tuple,)

    def encode(self, obj, enc, path):
        p = key_path(path, self.kind)
        e = enc.encode
        return {self.kind: [e(v, key_path(p, i)) for i, v in enumerate(obj)]}

    def decode(self, node, dec, path):
        items = node[self.kind]
        p = key_path(path, self.kind)
        expect(type(items) is list, p, "a list")
        return tuple(dec.decode(v, key_path(p, i)) for i, v in enumerate(items))


def _hashables(node, kind, dec, path):
    items = node[kind]
    p = key_path(path, kind)
    expect(type(items) is list, p, "a list")
    out = []
    for i, v in enumerate(items):
        x = dec.decode(v, key_path(p, i))
        try:
            hash(x)
        except TypeError:
            raise ValidationError(f"unhashable set element at {p}[{i}]") from None
        out.append(x)
    return out


def _sorted_if_possible(items):
    try:
        return sorted(items)  # deterministic documents for str / number sets
    except TypeError:
        return list(items)


class SetT(Transporter):
    kind = "milo:set"
    types = (set,)
    memo = True

    def encode(self, obj, enc, path):
        p = key_path(path, self.kind)
        return {self.kind: [enc.encode(v, key_path(p, i)) for i, v in enumerate(_sorted_if_possible(obj))]}

    def decode(self, node, dec, path):
        out: set = set()
        dec.register(node, out, path)
        out.update(_hashables(node, self.kind, dec, path))
        return out


class FrozenSetT(SetT):
    kind = "milo:frozenset"
    types = (frozenset,)
    memo = False

    def decode(self, node, dec, path):
        return frozenset(_hashables(node, self.kind, dec, path))


class BytesT(Transporter):
    kind = "milo:bytes"
    types = (bytes,)

    def encode(self, obj, enc, path):
        return {self.kind: base64.b64encode(obj).decode("ascii")}

    def decode(self, node, dec, path):
        s = node[self.kind]
        expect(type(s) is str, key_path(path, self.kind), "a base64 string")
        try:
            return base64.b64decode(s, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(f"bad base64 at {key_path(path, self.kind)}") from None


class ByteArrayT(BytesT):
    kind = "milo:bytearray"
    types = (bytearray,)
    memo = True

    def decode(self, node, dec, path):
        return bytearray(super().decode(node, dec, path))


class ComplexT(Transporter):
    kind = "milo:complex"
    types = (complex,)

    def encode(self, obj, enc, path):
        return {self.kind: [obj.real, obj.imag]}

    def decode(self, node, dec, path):
        v = node[self.kind]
        expect(type(v) is list and len(v) == 2 and all(type(x) is float for x in v), key_path(path, self.kind),
               "[real, imag] floats")
        return complex(v[0], v[1])


class SliceT(Transporter):
    kind = "milo:slice"
    types = (slice,)

    def encode(self, obj, enc, path):
        p = key_path(path, self.kind)
        return {self.kind: [enc.encode(obj.start, key_path(p, 0)), enc.encode(obj.stop, key_path(p, 1)),
                            enc.encode(obj.step, key_path(p, 2))]}

    def decode(self, node, dec, path):
        v = node[self.kind]
        p = key_path(path, self.kind)
        expect(type(v) is list and len(v) == 3, p, "[start, stop, step]")
        return slice(*(dec.decode(x, key_path(p, i)) for i, x in enumerate(v)))


class RangeT(Transporter):
    kind = "milo:range"
    types = (range,)

    def encode(self, obj, enc, path):
        return {self.kind: [obj.start, obj.stop, obj.step]}

    def decode(self, node, dec, path):
        v = node[self.kind]
        expect(type(v) is list and len(v) == 3 and all(type(x) is int for x in v) and v[2] != 0,
               key_path(path, self.kind), "[start, stop, step] ints")
        return range(*v)


class RefT(Transporter):
    kind = REF

    def decode(self, node, dec, path):
        expect(len(node) == 1, path, "a 'milo:ref' node with no other key")
        return dec.ref(node[REF], key_path(path, REF))


class SharedT(Transporter):
    kind = SHARED
    memo = True

    def decode(self, node, dec, path):
        inner = node[SHARED]
        p = key_path(path, SHARED)
        if type(inner) is list:  # registered before its items are built: it may contain itself
            out: list = []
            dec.register(node, out, path)
            out.extend(dec.decode(v, key_path(p, i)) for i, v in enumerate(inner))
            return out
        expect(type(inner) is not dict, p, "a list or array")
        return dec.decode(inner, p)


class TypeT(Transporter):
    """A class used as a value (``dtype=np.float64``, ``default_factory=list``): written by name only."""

    kind = "milo:type"
    fallback = True

    def match(self, obj):
        return isinstance(obj, type)

    def encode(self, obj, enc, path):
        qn = qualified_name(obj)
        if "<" in qn or lookup_by_name(qn) is not obj:
            raise ExportError(f"the class {qn} at {path} cannot be found by its name; it cannot be written")
        if not enc.is_trusted(qn):
            raise ExportError(f"the class {qn} at {path} is not on milo_fast's allow-list; a file naming it would "
                              f"not load (pass trusted=[{qn!r}] to both dump and load if you trust it)")
        return {self.kind: qn}

    def names(self, node, path):
        return [(node[self.kind], key_path(path, self.kind))]

    def decode(self, node, dec, path):
        obj = dec.resolve(node[self.kind], key_path(path, self.kind))
        expect(isinstance(obj, type), key_path(path, self.kind), f"{node[self.kind]} to be a class")
        return obj


TRANSPORTERS = [ListT(), DictT(), OrderedDictT(), CounterT(), DefaultDictT(), TupleT(), SetT(), FrozenSetT(),
                BytesT(), ByteArrayT(), ComplexT(), SliceT(), RangeT(), RefT(), SharedT(), TypeT()]
HANDLERS: list = []
