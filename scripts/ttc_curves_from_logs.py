#!/usr/bin/env python3
"""Turn per-sample evaluation logs into the measured-curve file of
`prillm auction --curves` / `prillm ttc-market --curves` (docs/ttc.md,
"Measured curves").

Input: JSON lines, one per (model, question, sample):

    {"model": "m", "question": "q17", "answer": "42", "correct": true,
     "tokens": 231, "reward": 0.71, "thinking_tokens": 180}

  answer           the extracted final answer (null or missing: unparsable)
  correct          whether that answer is right (a vote's answer is right
                   when a sample with the same answer is marked correct)
  tokens           the sample's billed (output) tokens
  reward           a reward-model score (best-of-N only)
  thinking_tokens  the reasoning part's tokens (reasoning effort only)
  benchmark        optional; --benchmark overrides it

Output (stdout): CSV rows benchmark,method,model,level,accuracy,tokens,
price_per_million,questions for each method asked:

  majority          level theta: per question, `--draws` random subsets of
                    theta samples; the most frequent parsable answer (ties:
                    the answer seen first in the subset) is the vote; accuracy
                    = fraction of (question, draw) whose vote is right, tokens
                    = mean of the subsets' summed tokens
  best-of-n         the same subsets; the sample with the highest reward
  reasoning-effort  per question, its samples sorted by thinking tokens and
                    cut into 5 equal-count bins; level b = 1..5; accuracy
                    and tokens = means over the samples of bin b (samples
                    with >= --max-tokens tokens or <= 5 thinking tokens are
                    dropped first, as in the reference)

Standard library only. Deterministic for a given --seed.
"""
import argparse
import collections
import csv
import json
import random
import sys


def read_logs(stream, benchmark):
    by_model = collections.OrderedDict()
    bench = set()
    for number, line in enumerate(stream, 1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"ttc_curves_from_logs: line {number}: not JSON: {e}")
        for key in ("model", "question", "correct", "tokens"):
            if key not in row:
                sys.exit(f"ttc_curves_from_logs: line {number}: {key} is missing")
        tokens = row["tokens"]
        if not isinstance(tokens, (int, float)) or tokens < 0:
            sys.exit(f"ttc_curves_from_logs: line {number}: tokens must be a number >= 0")
        bench.add(row.get("benchmark", ""))
        questions = by_model.setdefault(str(row["model"]), collections.OrderedDict())
        questions.setdefault(str(row["question"]), []).append(row)
    if benchmark is None:
        if len(bench) > 1:
            sys.exit("ttc_curves_from_logs: the log holds several benchmarks; keep one (--benchmark names it)")
        benchmark = bench.pop() if bench else ""
    return by_model, benchmark


def vote(samples, pick):
    """The right/wrong verdict of a subset under pick ('majority' or 'best')."""
    if pick == "best":
        if any("reward" not in s for s in samples):
            sys.exit("ttc_curves_from_logs: best-of-n needs a reward on every sample")
        return bool(max(samples, key=lambda s: s["reward"])["correct"])
    counts = collections.OrderedDict()
    right = {}
    for s in samples:
        a = s.get("answer")
        if a is None:
            continue
        a = str(a)
        counts[a] = counts.get(a, 0) + 1
        right[a] = right.get(a, False) or bool(s["correct"])
    if not counts:
        return False
    top = max(counts.values())
    winner = next(a for a, c in counts.items() if c == top)
    return right[winner]


def sampled_curve(questions, levels, draws, rng, pick):
    rows = []
    for theta in levels:
        hits = tokens = total = 0
        for samples in questions.values():
            if len(samples) < theta:
                continue
            for _ in range(draws):
                subset = rng.sample(samples, theta)
                hits += vote(subset, pick)
                tokens += sum(s["tokens"] for s in subset)
                total += 1
        if total:
            rows.append((theta, hits / total, tokens / total))
        else:
            print(f"ttc_curves_from_logs: no question has {theta} samples: level {theta} left out", file=sys.stderr)
    return rows


def effort_curve(questions, max_tokens, bins=5):
    hits = [0.0] * bins
    tokens = [0.0] * bins
    count = [0] * bins
    for samples in questions.values():
        kept = [s for s in samples if s["tokens"] < max_tokens and s.get("thinking_tokens", 0) > 5]
        if any("thinking_tokens" not in s for s in samples):
            sys.exit("ttc_curves_from_logs: reasoning-effort needs thinking_tokens on every sample")
        kept.sort(key=lambda s: s["thinking_tokens"])
        for rank, s in enumerate(kept):
            b = rank * bins // len(kept)
            hits[b] += bool(s["correct"])
            tokens[b] += s["tokens"]
            count[b] += 1
    return [(b + 1, hits[b] / count[b], tokens[b] / count[b]) for b in range(bins) if count[b]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="JSON lines, one per sample ('-' for standard input)")
    p.add_argument("--method", action="append", choices=["majority", "best-of-n", "reasoning-effort"],
                   help="curves to write (repeatable; default majority)")
    p.add_argument("--levels", default="1,4,8,16,32,64", help="theta values for majority / best-of-n")
    p.add_argument("--draws", type=int, default=50, help="random subsets per question and level (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=float, default=2048, help="reasoning-effort: drop samples at or above this")
    p.add_argument("--price", action="append", default=[], metavar="MODEL=USD_PER_1M",
                   help="list price per model (repeatable; required for every model)")
    p.add_argument("--benchmark", help="the benchmark column (default: the log's)")
    a = p.parse_args()
    prices = {}
    for item in a.price:
        model, _, value = item.rpartition("=")
        try:
            prices[model] = float(value)
        except ValueError:
            sys.exit(f"ttc_curves_from_logs: --price {item}: not MODEL=NUMBER")
    levels = [int(x) for x in a.levels.split(",") if x]
    stream = sys.stdin if a.log == "-" else open(a.log, encoding="utf-8")
    by_model, benchmark = read_logs(stream, a.benchmark)
    missing = [m for m in by_model if m not in prices]
    if missing:
        sys.exit(f"ttc_curves_from_logs: no --price for {', '.join(missing)}")
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["benchmark", "method", "model", "level", "accuracy", "tokens", "price_per_million", "questions"])
    rng = random.Random(a.seed)
    for method in a.method or ["majority"]:
        for model, questions in by_model.items():
            if method == "reasoning-effort":
                rows = effort_curve(questions, a.max_tokens)
            else:
                rows = sampled_curve(questions, levels, a.draws, rng, "best" if method == "best-of-n" else "majority")
            for level, accuracy, tokens in rows:
                out.writerow([benchmark, method, model, level, repr(accuracy), repr(tokens), repr(prices[model]),
                              len(questions)])


if __name__ == "__main__":
    main()
