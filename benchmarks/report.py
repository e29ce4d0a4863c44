"""Turn a pytest-benchmark JSON file into the Markdown tables of the README.

    python -m pytest benchmarks --benchmark-only --benchmark-json=out/bench.json
    python benchmarks/report.py out/bench.json
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    rows = defaultdict(dict)  # (group-base) -> {(fmt, verb): (min_s, size)}
    for b in data["benchmarks"]:
        group = b.get("group") or ""
        base, _, verb = group.rpartition(" ")
        fmt = b["params"].get("fmt") or b["params"].get("impl") or b["name"]
        rows[base][(fmt, verb)] = (b["stats"]["min"], b.get("extra_info", {}).get("size_bytes"))
    for base, cells in rows.items():
        fmts = sorted({f for f, _ in cells}, key=lambda f: (f != "pickle", f))
        verbs = sorted({v for _, v in cells})
        ref = {v: cells.get(("pickle", v), (None,))[0] for v in verbs}
        print(f"\n**{base}**\n")
        head = "| format | " + " | ".join(f"{v} ms | {v} ÷ pickle" for v in verbs) + " | size MB |"
        print(head)
        print("|" + "---|" * (2 * len(verbs) + 2))
        for fm in fmts:
            parts, size = [], None
            for v in verbs:
                t, s = cells.get((fm, v), (None, None))
                size = size or s
                if t is None:
                    parts.append("— | —")
                else:
                    ratio = f"{t / ref[v]:.2f}" if ref.get(v) else "—"
                    parts.append(f"{t * 1e3:.1f} | {ratio}")
            print(f"| {fm} | " + " | ".join(parts) + f" | {size / 1e6:.2f} |" if size else f"| {fm} | " + " | ".join(parts) + " | — |")


if __name__ == "__main__":
    main(sys.argv[1])
