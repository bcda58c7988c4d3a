"""Sampling from several Python threads at once, and the GIL released while C samples."""

import threading
import time

import numpy as np

import rmc


def regression():
    b = rmc.ModelBuilder()
    alpha = b.normal_prior("alpha", 0.0, 10.0)
    beta = b.normal_prior("beta", 0.0, 10.0)
    sigma = b.half_normal_prior("sigma", 5.0)
    b.observe("y", rmc.Normal(alpha + beta * "x", sigma))
    return b.build()


def eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    z = b.param("z", shape="J", prior=rmc.Normal(0, 1))
    b.deterministic("theta", mu + tau * z)
    b.observe("y", rmc.Normal(mu + tau * z, "sigma"))
    return b.build()


X = np.linspace(-1, 1, 50)
REG_DATA = {"x": X, "y": 0.5 + 2.0 * X + np.sin(7 * X)}
SCHOOLS = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
           "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}


def run(model, data, seed, threads=2):
    return rmc.sample(model, data, chains=4, draws=300, warmup=300, seed=seed, threads=threads)


def test_two_models_at_once_match_each_alone():
    jobs = [(regression(), REG_DATA, 5), (eight_schools(), SCHOOLS, 6)]
    together = [None, None]
    errors = []

    def work(i):
        try:
            model, data, seed = jobs[i]
            together[i] = run(model, data, seed)
        except Exception as exc:   # reported below, on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (model, data, seed), fit in zip(jobs, together):
        alone = run(model, data, seed, threads=1)
        np.testing.assert_array_equal(fit.values, alone.values)
        for name in fit.stats:
            np.testing.assert_array_equal(fit.stats[name], alone.stats[name])


def test_one_program_shared_by_two_threads():
    program = rmc.Program(eight_schools(), SCHOOLS)
    fits = {}

    def work(seed):
        fits[seed] = rmc.sample(program, None, chains=2, draws=200, warmup=200, seed=seed)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        alone = rmc.sample(program, None, chains=2, draws=200, warmup=200, seed=seed)
        np.testing.assert_array_equal(fits[seed].values, alone.values)


def test_gil_is_released_while_sampling():
    """A pure-Python loop keeps running on the main thread while another thread samples.

    With the GIL held through the C call, the loop would stall for the whole run; here it
    must make progress throughout, measured as the longest pause between its iterations.
    """
    model = eight_schools()

    def run_beside_loop(draws):
        done = threading.Event()
        timing = {}

        def work():
            t0 = time.perf_counter()
            rmc.sample(model, SCHOOLS, chains=2, draws=draws, warmup=1000, seed=3, threads=1)
            timing["seconds"] = time.perf_counter() - t0
            done.set()

        worker = threading.Thread(target=work)
        worker.start()
        spins, longest, last = 0, 0.0, time.perf_counter()
        while not done.is_set():
            spins += 1
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now
        worker.join()
        return timing["seconds"], longest, spins

    # The run must be long enough to tell a stall from a thread switch; machines differ in
    # speed by more than 10x, so lengthen it until it is.
    for draws in (3000, 30000, 300000):
        seconds, longest, spins = run_beside_loop(draws)
        if seconds > 0.2:
            break
    assert seconds > 0.2, "the run was too short to tell"
    # Python switches threads every 5 ms; a held GIL would stall the loop for the run.
    assert longest < 0.5 * seconds, (longest, seconds)
    assert spins > 1000
