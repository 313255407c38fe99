#!/usr/bin/env python3
"""Usage: python3 scripts/check_links.py [ROOT]

Every relative path that README.md and docs/*.md mention exists:
Markdown link targets, and backticked tokens that look like repository paths."""
import os, re, sys, glob
root = sys.argv[1] if len(sys.argv) > 1 else '.'
os.chdir(root)
files = ['README.md'] + sorted(glob.glob('docs/*.md')) + ['fuzz/README.md']
TOP = ('include/', 'src/', 'cli/', 'tests/', 'bench/', 'fuzz/', 'data/', 'docs/', 'scripts/', '.ci/')
bad = 0
for f in files:
    base = os.path.dirname(f)
    text = open(f, encoding='utf-8').read()
    for m in re.finditer(r'\]\(([^)\s]+)\)', text):
        t = m.group(1)
        if re.match(r'[a-z]+:', t) or t.startswith('#'):
            continue
        path = t.split('#')[0]
        p = os.path.normpath(os.path.join(base, path))
        if not os.path.exists(p):
            bad += 1; print(f'{f}: link {t} -> {p} missing')
        elif '#' in t and p.endswith('.md'):
            anchor = t.split('#', 1)[1]
            heads = [re.sub(r'[^\w\- ]', '', h.strip().lower()).replace(' ', '-')
                     for h in re.findall(r'^#+\s+(.*)$', open(p, encoding='utf-8').read(), re.M)]
            if anchor not in heads:
                bad += 1; print(f'{f}: anchor #{anchor} not in {p}')
    for m in re.finditer(r'`([^`\s]+)`', text):
        t = m.group(1).rstrip('.,:;)')
        if not t.startswith(TOP) or any(c in t for c in '*{<$[|'):
            continue
        path = t.split(':')[0].split('#')[0]
        if 'build' in path:
            continue
        if not os.path.exists(path):
            bad += 1; print(f'{f}: path `{t}` missing')
    for m in re.finditer(r'(?<![\w/.\-])((?:\.\./)?(?:include|src|cli|tests|bench|fuzz|data|docs|scripts)/[\w./\-]+\.(?:md|c|h|json|csv|sh|py|dict))(?![\w])', text):
        t = m.group(1)
        if not os.path.exists(t) and not os.path.exists(os.path.normpath(os.path.join(base, t))):
            bad += 1; print(f'{f}: path {t} missing')
    for m in re.finditer(r'DESIGN\.md|README\.md#', text):
        bad += 1; print(f'{f}: stale pointer {m.group(0)}')
print(f'{len(files)} files checked, {bad} problems')
sys.exit(1 if bad else 0)
