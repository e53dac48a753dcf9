#!/usr/bin/env python3
"""The house's limits on src/ (docs/architecture.md, "Layout limits"): lists files over 800
lines, functions over 120 lines,
`super::super::`, `foo.rs` beside `foo/`, and import cycles between files (from `use` lines and
inline `crate::`/`super::`/`self::` paths; `pub use` re-exports of a child by its parent and `mod`
lines are not counted). Run from the repository's root; exits 1 when it finds any (.ci/run
runs it)."""
import os, re, sys
from collections import defaultdict
root = 'src'
files = []
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            files.append(os.path.join(d, f))
def modpath(p):
    rel = os.path.relpath(p, root)[:-3].split(os.sep)
    if rel[-1] in ('mod', 'lib', 'main'):
        rel = rel[:-1]
    return tuple(rel)
mods = {modpath(p): p for p in files}
bad = 0
print('## files over 800 lines')
for p in sorted(files):
    n = sum(1 for _ in open(p))
    if n > 800:
        print(f'  {n:5} {p}'); bad += 1
print('## functions over 120 lines')
fnre = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)')
for p in sorted(files):
    lines = open(p).read().split('\n')
    i = 0
    while i < len(lines):
        m = fnre.match(lines[i])
        if m:
            depth = 0; started = False; j = i
            while j < len(lines):
                code = re.sub(r'//.*', '', re.sub(r'"(\\.|[^"\\])*"', '""', lines[j]))
                code = re.sub(r"'(\\.|[^'\\])'", "''", code)
                if not started and ';' in code and '{' not in code:
                    break
                for ch in code:
                    if ch == '{': depth += 1; started = True
                    elif ch == '}': depth -= 1
                if started and depth <= 0:
                    break
                j += 1
            n = j - i + 1
            if started and n > 120:
                print(f'  {n:5} {p}:{i+1} {m.group(6)}'); bad += 1
        i += 1
print('## super::super::')
for p in sorted(files):
    for k, l in enumerate(open(p), 1):
        if 'super::super::' in l:
            print(f'  {p}:{k}'); bad += 1
print('## foo.rs beside foo/')
for p in sorted(files):
    if os.path.isdir(p[:-3]) and not p.endswith(('mod.rs', 'lib.rs', 'main.rs')):
        print(f'  {p}'); bad += 1
print('## import cycles between files')
edges = defaultdict(set)
def resolve(segs):
    for k in range(len(segs), 0, -1):
        if tuple(segs[:k]) in mods:
            return tuple(segs[:k])
    return None
pathre = re.compile(r'\b((?:crate|super|self)(?:::\w+)+)')
def split_use(body):
    m = re.match(r'([\w:]+)::\{(.*)\}$', body.strip(), re.S)
    if m:
        return [m.group(1) + '::' + x.strip() for x in m.group(2).split(',') if x.strip()]
    return [body.strip()]
def absolute(me, is_modfile, segs):
    base = list(me)
    if segs[0] == 'crate': return segs[1:]
    if segs[0] == 'self': return base + segs[1:]
    if segs[0] == 'super':
        b = base[:]
        while segs and segs[0] == 'super':
            b = b[:-1]; segs = segs[1:]
        return b + segs
    if segs[0] != 'std' and tuple(list(me) + [segs[0]]) in mods:
        return list(me) + segs
    return None
reexports = {}
for p in files:
    if not p.endswith(('mod.rs', 'lib.rs')): continue
    me = modpath(p)
    for m in re.finditer(r'pub(\([^)]*\))?\s+use\s+([^;]+);', open(p).read()):
        for path in split_use(m.group(2)):
            name = path.split(' as ')[-1].split('::')[-1].strip()
            segs = [x.strip() for x in path.split(' as ')[0].split('::')]
            full = absolute(me, True, segs)
            if full is None: continue
            t = resolve(full)
            if t and t != me: reexports[(me, name)] = t
def resolve2(full):
    t = resolve(full)
    while t is not None and len(full) > len(t) and (t, full[len(t)]) in reexports:
        t = reexports[(t, full[len(t)])]
    return t
for p in files:
    me = modpath(p)
    is_modfile = p.endswith(('mod.rs', 'lib.rs', 'main.rs'))
    text = open(p).read()
    text = re.sub(r'#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod tests \{.*', '', text, flags=re.S)
    for stmt in re.finditer(r'(pub(\([^)]*\))?\s+)?use\s+([^;]+);|((?:crate|super|self)(?:::\w+)+)', text):
        if stmt.group(3):
            body = stmt.group(3)
            reexport = bool(stmt.group(1))
            # expand one level of braces
            m = re.match(r'([\w:]+)::\{(.*)\}$', body.strip(), re.S)
            paths = [m.group(1) + '::' + x.strip().split(' as ')[0] for x in m.group(2).split(',') if x.strip()] if m else [body.strip()]
        else:
            paths = [stmt.group(4)]; reexport = False
        for path in paths:
            segs = [s for s in re.split(r'::', path) if s and s != '{' ]
            segs = [re.sub(r'[{}\s].*', '', s) for s in segs]
            if not segs: continue
            full = absolute(me, is_modfile, segs)
            if full is None: continue
            t = resolve2(full)
            if t is None or t == me: continue
            if reexport and is_modfile and t[:len(me)] == me: continue
            edges[me].add(t)
# Tarjan
index = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in list(mods):
    if v not in index: sc(v)
for comp in sccs:
    names = sorted(mods[m] for m in comp)
    print(f'  cycle of {len(comp)}: ' + ', '.join(names)); bad += 1
    for m in comp:
        for t in sorted(edges[m] & set(comp)):
            print(f'      {mods[m]} -> {mods[t]}')
print(f'# {bad} findings')
sys.exit(1 if bad else 0)
