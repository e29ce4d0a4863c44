"""The milo-fast command line."""
from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  milo-fast demo                       train a 100-tree forest, save/load it with milo_fast and pickle, compare
  milo-fast demo --trees 10            a smaller forest
  milo-fast inspect model.json         show the header of a milo_fast or PyMilo file
"""


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="milo-fast", description="Save scikit-learn models as transparent JSON.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="train a forest, export, import, compare with pickle, print the figures",
                       epilog="example: milo-fast demo --trees 100 --samples 20000",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--trees", type=_positive, default=100, help="number of trees (default 100)")
    d.add_argument("--samples", type=_positive, default=20000, help="training samples (default 20000)")
    d.add_argument("--features", type=_positive, default=20, help="features (default 20)")
    d.add_argument("--repeat", type=_positive, default=5,
                   help="timing rounds, the formats in turn in each; the best is shown (default 5)")
    i = sub.add_parser("inspect", help="show the header of a milo_fast or PyMilo file",
                       epilog="example: milo-fast inspect model.json")
    i.add_argument("path")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run
        return run(trees=args.trees, samples=args.samples, features=args.features, repeat=args.repeat)
    if args.command == "inspect":
        import json

        from . import codec
        from .errors import MiloError
        try:
            with open(args.path, "rb") as f:
                data = f.read()
            doc = codec.decode(data)
        except (OSError, MiloError) as e:
            print(f"milo-fast: {args.path}: {e}", file=sys.stderr)
            return 2
        header = {k: v for k, v in doc.items() if not isinstance(v, (dict, list))} if isinstance(doc, dict) else {}
        for k in ("milo_fast", "header"):
            if isinstance(doc, dict) and isinstance(doc.get(k), dict):
                header = doc[k]
        print(json.dumps(header, indent=2, default=str))
        return 0
    _parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
