#!/usr/bin/env python3
"""Fails (exit 1) on any import cycle between modules of src/ (one node per file; foo/mod.rs is
`foo`). Edges: `use crate::/super::/self::` trees and inline `crate::a::b` paths (attribute
strings included, comments not); a path through a `mod.rs` re-export (`crate::auth::Viewer`)
resolves to the file that defines it. Run by `cargo test` through tests/api/modules.rs.
Usage: module_cycles.py [SRC] [--graph]"""
import pathlib, re, sys
from collections import deque

SRC = pathlib.Path(next((a for a in sys.argv[1:] if not a.startswith("--")), "src"))

def node_of(p):
    parts = list(p.relative_to(SRC).with_suffix("").parts)
    return "::".join(parts[:-1] if parts[-1] == "mod" else parts)

def strip_comments(text):
    tok = r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/'
    return re.sub(tok, lambda m: m[0] if m[0][0] == '"' else "", text, flags=re.S)

def expand(tree):
    """`a::{b, c::{d as e}}` -> [a::b, a::c::d]"""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    depth = 0
    for i, ch in enumerate(tree):
        if ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items, d, cur = [], 0, ""
                for c in tree[start + 1:i] + ",":
                    if c == "," and d == 0:
                        items.append(cur); cur = ""; continue
                    d += (c == "{") - (c == "}"); cur += c
                return [x for it in items if it
                        for x in expand(tree[:start] + it + tree[i + 1:])]
    return [tree]

files = {node_of(p): p for p in SRC.rglob("*.rs") if p.name not in ("lib.rs", "main.rs")}
texts = {n: strip_comments(p.read_text()) for n, p in files.items()}
USE = re.compile(r"\buse\s+([^;]+);")

def absolute(n, path):
    segs, here = [s for s in path.split("::") if s], n.split("::")
    if not segs:
        return None
    if segs[0] == "crate":
        return segs[1:]
    if segs[0] in ("super", "self"):
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                here = here[:-1]
        return here + segs
    if files[n].name == "mod.rs" and f"{n}::{segs[0]}" in files:
        return here + segs  # `pub use guard::X;` in auth/mod.rs
    return None

reexports = {}  # "auth" -> {"Viewer": "auth::viewer"}
for n, p in files.items():
    if p.name == "mod.rs":
        for m in re.finditer(r"\bpub\s+use\s+([^;]+);", texts[n]):
            for path in expand(m[1]):
                segs = absolute(n, path)
                if segs and len(segs) > 1 and "::".join(segs[:-1]) in files:
                    reexports.setdefault(n, {})[segs[-1]] = "::".join(segs[:-1])

def resolve(segs):
    best = None
    for i in range(1, len(segs) + 1):
        cand = "::".join(segs[:i])
        if cand not in files:
            break
        best = cand
        if i < len(segs) and segs[i] in reexports.get(cand, {}):
            return reexports[cand][segs[i]]
    return best

graph = {n: set() for n in files}
for n, text in texts.items():
    paths = [p for m in USE.finditer(text) for p in expand(m[1])]
    paths += re.findall(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", USE.sub("", text))
    for path in paths:
        segs = absolute(n, path)
        target = resolve(segs) if segs else None
        if target and target != n and not n.startswith(target + "::"):
            graph[n].add(target)

def sccs(g):  # Tarjan
    index, low, stack, on, out = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index); stack.append(v); on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop()); on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out

def shortest_cycle(g, comp):
    best = None
    for s in sorted(comp):
        prev, q = {s: None}, deque([s])
        while q:
            v = q.popleft()
            if s in g[v]:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                cyc = path[::-1] + [s]
                best = cyc if best is None or len(cyc) < len(best) else best
                break
            for w in sorted(g[v]):
                if w in comp and w not in prev:
                    prev[w] = v; q.append(w)
    return best

if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    if "--graph" in sys.argv:
        for n in sorted(graph):
            print(f"{n} -> {', '.join(sorted(graph[n]))}")
    bad = sccs(graph)
    for comp in bad:
        print("cycle among:", ", ".join(comp))
        print("  e.g.", " -> ".join(shortest_cycle(graph, set(comp))))
    print(f"{len(files)} modules, {sum(len(v) for v in graph.values())} imports, {len(bad)} cycles")
    sys.exit(1 if bad else 0)
