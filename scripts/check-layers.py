#!/usr/bin/env python3
"""Check the library's layering (the book: docs/src/internals/layers.md): every `crate::MODULE` a library file names
must be in a lower layer than the file's own module, and no two files may import each other in a
cycle. Exits 1 with the offending edges or cycles. The CLI (src/main.rs, src/cli/) is on top and
not checked. Usage: scripts/check-layers.py [REPO_ROOT]
"""
import os
import re
import sys

# Bottom to top. A module may import only from layers below its own.
LAYERS = [
    ["stats", "progress", "schema", "numfmt"],
    ["config", "store"],
    ["data", "regime"],
    ["model"],
    ["optim"],
    ["metrics"],
    ["run"],
    ["landscape"],
    ["training", "bench"],
    ["sweep"],
    ["analysis"],
    ["report"],
    ["studies", "map"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
src = os.path.join(root, "src")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


files = {}
for d, _, fs in os.walk(src):
    for f in fs:
        if not f.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(d, f), src)
        if rel == "main.rs" or rel.startswith("cli/") or rel == "lib.rs":
            continue
        files[rel] = strip_comments(open(os.path.join(d, f), encoding="utf-8").read())


def module_path(rel):  # "a/b.rs" -> ["a", "b"]; "a/mod.rs" -> ["a"]
    parts = rel[:-3].split("/")
    return parts[:-1] if parts[-1] == "mod" else parts


by_path = {tuple(module_path(r)): r for r in files}
problems = []
edges = {r: set() for r in files}
ref = re.compile(r"\b(crate|super)((?:::\w+)+)")
group = re.compile(r"\b(crate|super)((?:::\w+)*)::\{([^}]*)\}", re.S)

for rel, text in files.items():
    me = module_path(rel)
    top = me[0]
    if top not in RANK:
        problems.append(f"{rel}: module `{top}` is in no layer of scripts/check-layers.py")
        continue
    refs = []
    for m in group.finditer(text):
        base = [s for s in m.group(2).split("::") if s]
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].strip()
            if item and item != "self":
                refs.append((m.group(1), base + [s for s in item.split("::") if s]))
            elif item == "self":
                refs.append((m.group(1), base))
    for m in ref.finditer(text):
        refs.append((m.group(1), [s for s in m.group(2).split("::") if s]))
    for kind, segs in refs:
        full = segs if kind == "crate" else me[:-1] + segs
        if not full:
            continue
        other = full[0]
        if other != top and other in RANK and RANK[other] >= RANK[top]:
            problems.append(f"{rel}: `{top}` (layer {RANK[top]}) imports `{other}` (layer {RANK[other]})")
        # file-level edge, for cycles inside a module
        for n in range(len(full), 0, -1):
            target = by_path.get(tuple(full[:n]))
            if target:
                parent_of_me = tuple(me[:-1]) == tuple(full[:n])
                if target != rel and not (kind == "super" and parent_of_me):
                    edges[rel].add(target)
                break

# cycles between files (Tarjan)
index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            cycles.append(sorted(comp))


for v in edges:
    if v not in index:
        visit(v)
for c in cycles:
    problems.append("import cycle: " + " <-> ".join(c))

for p in sorted(set(problems)):
    print(p)
print(f"{len(files)} library files, {len(set(problems))} layering problems")
sys.exit(1 if problems else 0)
