"""prillm.explain: the same report as `prillm explain`, in every format."""

import json

import pytest

import prillm

TARGET = "anthropic/claude-3.5-haiku"


def without_seconds(report):
    report.pop("seconds")
    return report


def test_json_matches_cli(default_market_path, cli):
    market = prillm.Market.from_file(default_market_path)
    ref = cli("explain", default_market_path, "--target", TARGET, "--format", "json", "--sensitivities", "2")
    got = json.loads(prillm.explain(market, TARGET, "json", sensitivities=2))
    assert without_seconds(got) == without_seconds(ref)
    # and its numbers are prillm.price's, walked whole as explain walks its curve
    r = prillm.price(market, TARGET, prune=0)
    assert got["price"]["price"] == r.price and got["price"]["profit"] == r.profit


def test_html_md_svg_and_options(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    html = prillm.explain(market, TARGET, sensitivities=0, breakpoints=2)
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Kilo Code" in html
    md = prillm.explain(market, TARGET, "md", sensitivities=0)
    assert md.lstrip().startswith("# Price report") and "<svg" in md
    svg = prillm.explain(market, TARGET, "svg", sensitivities=0)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    report = json.loads(prillm.explain(market, TARGET, "json", method="min", compare=True, sensitivities=0))
    assert report["price"]["method"] == "min" and isinstance(report["far_below"], bool)
    assert {r["role"] for r in report["rivals"]} == {"kept", "dropped"}
    assert [o["keyword"] for o in prillm.options("explain")] == ["sensitivities", "step", "breakpoints", "far_below"]


def test_errors(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    with pytest.raises(prillm.Error, match="step"):
        prillm.explain(market, TARGET, step=0)
    with pytest.raises(ValueError):
        prillm.explain(market, TARGET, "pdf")
