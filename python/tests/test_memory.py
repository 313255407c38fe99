"""Nothing leaks: the C heap in use (glibc mallinfo2) stays flat over many
calls, successful and failing."""

import ctypes
import ctypes.util
import gc

import numpy as np
import pytest

import prillm


def heap_in_use():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("no mallinfo2 (glibc >= 2.33) to measure the heap")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    libc.mallinfo2.restype = MallInfo2
    gc.collect()
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def workload(path):
    market = prillm.Market.from_file(path)
    market.equilibrium()
    market.price(3)
    market.price_jacobian(columns=[0, 1])
    market.to_json()
    market.replace(prices=market.prices * 1.1).close()
    for bad in (dict(capacities=[-1.0]), dict(affinity=[[np.nan]])):
        kw = dict(prices=[1.0], capacities=[1.0], values=[1.0], demands=[1.0], delay=[[1.0]])
        kw.update(bad)
        with pytest.raises(prillm.Error):
            prillm.Market.from_arrays(**kw)
    with pytest.raises(prillm.Error):
        prillm.Market.from_json('{"weights": 1')
    with pytest.raises(prillm.Error):
        market.price(0, pmax=-1)
    with pytest.raises(prillm.Error):
        market.equilibrium(nonsense=1)
    market.close()


def test_no_leaks(default_market_path):
    for _ in range(5):  # warm up caches and allocator pools
        workload(default_market_path)
    before = heap_in_use()
    for _ in range(100):
        workload(default_market_path)
    grown = heap_in_use() - before
    # one leaked 20 x 20 market alone is ~10 kB: 100 rounds would be ~1 MB
    assert grown < 256 * 1024, "C heap grew by %d bytes over 100 rounds" % grown
