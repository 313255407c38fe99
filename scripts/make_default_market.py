#!/usr/bin/env python3
"""Builds data/default_market.json, the market the demo runs on.

Providers: 20 OpenRouter model ids with their public list prices (USD per
million tokens, input / output, as listed on the models' public pages in
2025-2026), blended 3:1 input:output because chat and agent traffic is
mostly prompt; latency is a typical public time to first token in seconds
(reasoning models are slower). Values (perceived quality premium, USD/Mtok)
and capacities (Mtok/day) are set by hand so the market looks like the real
one: premium models keep traffic despite their price, cheap open models carry
volume. They are illustrative, not calibrated: `prillm calibrate` learns
values from real traffic.

Users: 20 public OpenRouter apps with illustrative daily demands (Mtok/day).
Delay: delay[i][j] = latency_j * factor_i * (1 + 0.1 * h(i, j)), where
factor_i is the app's network/usage factor and h a fixed hash in [-1, 1]
(deterministic, no RNG state), so apps see the same model a little
differently.

Run from the repository root: python3 scripts/make_default_market.py
"""
import json

# id, input $/Mtok, output $/Mtok, latency s, value $/Mtok, capacity Mtok/day
MODELS = [
    ("anthropic/claude-sonnet-4", 3.00, 15.00, 1.8, 8.2, 700),
    ("anthropic/claude-opus-4.1", 15.00, 75.00, 2.4, 32.6, 120),
    ("anthropic/claude-3.5-haiku", 0.80, 4.00, 0.9, 2.2, 200),
    ("openai/gpt-5", 1.25, 10.00, 6.0, 6.9, 400),
    ("openai/gpt-4.1", 2.00, 8.00, 0.9, 4.6, 300),
    ("openai/gpt-4.1-mini", 0.40, 1.60, 0.6, 1.6, 350),
    ("openai/gpt-4o-mini", 0.15, 0.60, 0.5, 0.9, 400),
    ("openai/gpt-oss-120b", 0.10, 0.50, 0.7, 0.8, 300),
    ("google/gemini-2.5-pro", 1.25, 10.00, 3.5, 6.2, 500),
    ("google/gemini-2.5-flash", 0.30, 2.50, 0.8, 2.3, 800),
    ("google/gemini-2.0-flash-001", 0.10, 0.40, 0.5, 0.9, 500),
    ("deepseek/deepseek-chat-v3.1", 0.27, 1.10, 1.6, 1.9, 600),
    ("deepseek/deepseek-r1", 0.55, 2.19, 3.2, 2.4, 200),
    ("qwen/qwen3-coder", 0.40, 1.60, 1.2, 2.0, 450),
    ("qwen/qwen3-235b-a22b", 0.13, 0.60, 1.1, 1.0, 250),
    ("moonshotai/kimi-k2", 0.60, 2.50, 1.3, 2.4, 300),
    ("z-ai/glm-4.5", 0.60, 2.20, 1.4, 2.2, 250),
    ("x-ai/grok-code-fast-1", 0.20, 1.50, 0.7, 1.7, 650),
    ("x-ai/grok-4", 3.00, 15.00, 4.5, 8.4, 150),
    ("meta-llama/llama-3.3-70b-instruct", 0.13, 0.39, 0.6, 0.7, 300),
]

# app, demand Mtok/day, delay factor (agents wait on long tool loops: lower
# sensitivity per second is expressed by a lower factor)
APPS = [
    ("Kilo Code", 740, 0.9), ("Cline", 610, 0.9), ("Roo Code", 450, 0.9),
    ("OpenHands", 520, 0.8), ("OpenClaw", 300, 0.9), ("Hermes Agent", 260, 1.0),
    ("SillyTavern", 380, 1.2), ("Janitor AI", 330, 1.3), ("Chub AI", 140, 1.3),
    ("liteLLM", 220, 1.0), ("Open WebUI", 150, 1.1), ("Aider", 95, 0.9),
    ("Zed", 85, 1.0), ("Continue", 60, 1.0), ("BLACKBOXAI", 140, 1.1),
    ("Novelcrafter", 25, 1.2), ("Agnai", 20, 1.2), ("RisuAI", 30, 1.3),
    ("Goose", 45, 0.9), ("Quick Translate", 35, 1.4),
]


def blended(price_in, price_out):
    return round((3 * price_in + price_out) / 4, 4)


def h(i, j):
    """A fixed hash of (i, j) mapped to [-1, 1]."""
    x = (i * 2654435761 + j * 40503 + 12345) % 4294967296
    x = (x ^ (x >> 13)) * 1274126177 % 4294967296
    return (x % 2001) / 1000.0 - 1.0


def main():
    market = {
        "weights": {"price": 1.0, "congestion": 0.8, "delay": 0.5},
        "providers": [
            {"id": mid, "price": blended(pin, pout), "capacity": float(cap), "value": val, "latency": lat}
            for (mid, pin, pout, lat, val, cap) in MODELS
        ],
        "users": [{"id": app, "demand": float(d)} for (app, d, _) in APPS],
        "delay": [
            [round(lat * factor * (1 + 0.1 * h(i, j)), 4) for j, (_, _, _, lat, _, _) in enumerate(MODELS)]
            for i, (_, _, factor) in enumerate(APPS)
        ],
    }
    with open("data/default_market.json", "w") as out:
        out.write("{\n")
        out.write('  "weights": %s,\n' % json.dumps(market["weights"]))
        out.write('  "providers": [\n%s\n  ],\n' % ",\n".join("    " + json.dumps(p) for p in market["providers"]))
        out.write('  "users": [\n%s\n  ],\n' % ",\n".join("    " + json.dumps(u) for u in market["users"]))
        out.write('  "delay": [\n%s\n  ]\n' % ",\n".join("    " + json.dumps(r) for r in market["delay"]))
        out.write("}\n")


if __name__ == "__main__":
    main()
