"""The computation releases the interpreter: other Python threads run while it works."""

import threading
import time

import real_space_diff_map as rsdm
from conftest import SHARED


def test_other_python_threads_run_during_the_computation(spike):
    stop = threading.Event()
    ticks = []

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.05)
    start = time.perf_counter()
    for _ in range(3):
        rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, threads=1)
    end = time.perf_counter()
    stop.set()
    counter.join()
    during = [t for t in ticks if start <= t <= end]
    # With the interpreter held, the counter could not tick at all while the core computed;
    # released, it ticks about every millisecond. Measure the largest gap, not a rate.
    gaps = [b - a for a, b in zip([start] + during, during + [end])]
    assert max(gaps) < 0.5 * (end - start), (max(gaps), end - start, len(during))
    assert len(during) >= 10


def test_two_computations_side_by_side_in_threads_give_the_same_map(spike):
    results = [None, None]

    def work(i):
        results[i] = rsdm.difference_map(spike["model"], spike["map"], resolution=3.2, threads=1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (results[0].map == results[1].map).all()
