"""The binary market form from Python, through the C library's reader and
writer (prillm_market_parse_binary / _write_binary): bit-for-bit round trips
on random markets (NaN costs and latencies, affinities, awkward ids), the same
bytes as `prillm convert`, either form from from_file / from_bytes, and
corrupted or truncated files refused with the reader's message."""

import os

import numpy as np
import pytest

import prillm

FIELDS = ("prices", "capacities", "values", "demands", "delay", "affinity", "latency", "costs")


def random_market(seed):
    """A random market with every optional array and NaNs where allowed."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 30)), int(rng.integers(1, 12))
    latency = rng.uniform(0.1, 3.0, m)
    latency[rng.random(m) < 0.3] = np.nan
    costs = rng.uniform(0.0, 0.5, m)
    costs[rng.random(m) < 0.3] = np.nan
    return prillm.Market.from_arrays(
        prices=rng.lognormal(0, 1, m),
        capacities=rng.uniform(10, 200, m),
        values=rng.uniform(2, 6, m),
        demands=rng.lognormal(2, 1, n),
        delay=rng.uniform(0.1, 3.0, (n, m)),
        latency=latency,
        costs=costs,
        affinity=rng.normal(0, 0.5, (n, m)) if seed % 2 else None,
        provider_ids=["p/%d \u00e9\"%d" % (seed, j) for j in range(m)],
        user_ids=["app %d,%d" % (seed, i) for i in range(n)],
        w_price=float(rng.uniform(0.5, 2)),
        w_congestion=float(rng.uniform(0.1, 1)),
        w_delay=float(rng.uniform(0, 1)),
    )


def assert_same_market(a, b):
    assert a.shape == b.shape and a.weights == b.weights
    assert a.provider_ids == b.provider_ids and a.user_ids == b.user_ids
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        # bit for bit, NaN included
        assert x.tobytes() == y.tobytes(), name


@pytest.mark.parametrize("seed", range(1, 13))
def test_round_trip_bit_for_bit(seed):
    with random_market(seed) as market:
        data = market.to_binary()
        assert isinstance(data, bytes) and prillm.Market.is_binary(data)
        assert not prillm.Market.is_binary(market.to_json().encode())
        with prillm.Market.from_binary(data) as back, prillm.Market.from_bytes(data) as either:
            assert_same_market(market, back)
            assert_same_market(market, either)
            assert back.to_binary() == data
            np.testing.assert_array_equal(back.equilibrium().flows, market.equilibrium().flows)
        # the JSON form of the same market reads back to the same bytes
        with prillm.Market.from_bytes(market.to_json()) as from_text:
            assert from_text.to_binary() == data


def test_same_bytes_as_the_command(cli, tmp_path):
    for seed in (1, 4, 9):
        path = tmp_path / ("m%d.json" % seed)
        path.write_text(cli("generate", "--users", str(7 + seed), "--providers", str(2 + seed), "--seed", str(seed),
                            parse=False))
        cli("convert", str(path), str(tmp_path / "m.bin"), "--quiet", parse=False)
        command_bytes = (tmp_path / "m.bin").read_bytes()
        with prillm.Market.from_file(path) as from_json, prillm.Market.from_file(tmp_path / "m.bin") as from_bin:
            assert_same_market(from_json, from_bin)
            assert from_json.to_binary() == command_bytes
            # a file Python writes, the command reads
            from_bin.to_file(tmp_path / "py.bin", binary=True)
            assert (tmp_path / "py.bin").read_bytes() == command_bytes
        back = cli("convert", str(tmp_path / "py.bin"), "-", "--to", "json", parse=False)
        assert back == path.read_text()


def test_corrupted_and_truncated_refused():
    with random_market(3) as market:
        data = bytearray(market.to_binary())
    for cut in (0, 10, 39, 40, len(data) // 2, len(data) - 1):
        with pytest.raises(prillm.Error) as e:
            prillm.Market.from_binary(bytes(data[:cut]))
        assert e.value.code == 2 and "binary market" in str(e.value), (cut, str(e.value))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_binary(bytes(flipped))
    assert "checksum" in str(e.value)
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_binary(b'{"providers": []}')
    assert "magic" in str(e.value)


def test_from_file_reads_either_form(tmp_path, default_market_path):
    with prillm.Market.from_file(default_market_path) as market:
        market.to_file(tmp_path / "d.bin", binary=True)
        market.to_file(tmp_path / "d.json")
        assert (tmp_path / "d.bin").stat().st_size > 0
        with prillm.Market.from_file(tmp_path / "d.bin") as b, prillm.Market.from_file(tmp_path / "d.json") as j:
            assert_same_market(market, b)
            assert_same_market(market, j)
    with pytest.raises(prillm.Error) as e:
        prillm.Market.from_file(os.path.join(str(tmp_path), "missing.bin"))
    assert e.value.code == 4


def test_command_reads_what_python_wrote(cli, tmp_path):
    with random_market(5) as market:
        market.to_file(tmp_path / "r.bin", binary=True)
        flows = market.equilibrium().flows
    answer = cli("equilibrium", str(tmp_path / "r.bin"))
    np.testing.assert_allclose(np.array(answer["flows"]), flows, rtol=1e-12, atol=1e-12)
