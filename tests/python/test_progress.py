"""Progress bars, interruption and logging around rmc.sample.

The C driver reports progress (with warmup share and divergences) through
rmc_config.progress_info at most every 100 ms; Python draws a bar on stderr from it.
"""

import logging
import os
import re
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import rmc
from rmc import progress as rmc_progress

Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
SIGMA = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])


def centred_schools():
    """Centred eight schools with a low target: divergences are certain."""
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    theta = b.param("theta", shape=8, prior=rmc.Normal(mu, tau))
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


@pytest.fixture
def last_report(monkeypatch):
    """Records each bar's last report when it closes."""
    seen = []
    close = rmc_progress.ProgressBar.close

    def spy(self, interrupted=False):
        seen.append((self.last, interrupted))
        return close(self, interrupted)
    monkeypatch.setattr(rmc_progress.ProgressBar, "close", spy)
    return seen


def _default_sigint():
    """In the child, before exec: take SIGINT's default action back. A test runner started
    in the background by a shell without job control (`cmd &`, nohup) ignores SIGINT, and
    an ignored signal stays ignored across exec, so the child would never see the Ctrl-C
    under test (Python installs its KeyboardInterrupt handler only over the default)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_builtin_bar_reports_the_run(capsys, last_report, monkeypatch):
    monkeypatch.setattr(rmc_progress, "_tqdm", lambda: None)
    fit = rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=2, draws=500,
                     warmup=300, seed=4, target_accept=0.6, progress=True)
    err = capsys.readouterr().err
    final = err.strip().splitlines()[-1]
    assert final.startswith("sampling") and "100%" in final, err
    assert "1600/1600 draws" in final and "draws/s" in final
    # The C counts: every iteration, all warmup, and the very divergences the fit holds.
    (done, total, warm, warm_total, divergent, seconds), interrupted = last_report[-1]
    assert (done, total, warm, warm_total) == (1600, 1600, 600, 600)
    assert fit.num_divergent > 0
    assert divergent == fit.num_divergent
    assert "%d divergent" % fit.num_divergent in final
    assert not interrupted and seconds > 0


def test_progress_false_is_silent(capsys, last_report):
    rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=2, draws=100, warmup=100,
               seed=4, progress=False)
    assert "draws/s" not in capsys.readouterr().err
    assert last_report == []


def test_progress_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="progress must be"):
        rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=1, draws=10,
                   warmup=10, seed=1, progress="fancy")


def test_tqdm_is_used_when_installed(monkeypatch):
    """A stand-in tqdm records what the bar asks of it."""
    calls = []

    class FakeTqdm:
        def __init__(self, **kw):
            self.n, self.total = 0, kw["total"]
            calls.append(("init", kw["desc"]))

        def set_description(self, desc, refresh=True):
            calls.append(("desc", desc))

        def set_postfix(self, refresh=True, **kw):
            calls.append(("postfix", kw))

        def update(self, k):
            self.n += k

        def close(self):
            calls.append(("close", self.n, self.total))

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=2, draws=200, warmup=100,
               seed=2, progress="tqdm")
    assert calls[0] == ("init", "warmup")
    assert calls[-1] == ("close", 600, 600)
    assert ("desc", "sampling") in calls
    assert any(c[0] == "postfix" and "divergent" in c[1] for c in calls)


def test_builtin_bar_phases_and_rate():
    class Tty:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

        def isatty(self):
            return True

    out = Tty()
    bar = rmc_progress.ProgressBar(4, kind="text", stream=out)
    bar.update(100, 800, 100, 400, 0, 0.5)
    assert "warmup " in out.text and "200 draws/s" in out.text
    time.sleep(0.11)
    bar.update(500, 800, 350, 400, 3, 1.0)
    assert "\rwarmup+sampling" in out.text and "3 divergent" in out.text
    bar.update(600, 800, 400, 400, 3, 1.01)   # within 0.1 s of the last: not drawn
    assert "600/800" not in out.text
    bar.close(interrupted=True)
    assert out.text.endswith("\n") and "interrupted" in out.text and "600/800" in out.text


INTERRUPT_SCRIPT = """
import numpy as np
import rmc
b = rmc.ModelBuilder()
mu = b.param("mu", prior=rmc.Normal(0, 1))
b.observe("y", rmc.Normal(mu, 1.0))
y = np.random.default_rng(0).normal(size=100000)
print("ready", flush=True)
fit = rmc.sample(b.build(), {"y": y}, chains=2, draws=200000, warmup=100, seed=1,
                 progress="text")
print("result", fit.interrupted, fit.num_draws, fit["mu"].shape, flush=True)
fit.to_csv(%r)
"""


def test_sigint_returns_partial_draws(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(rmc.__file__))
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT_SCRIPT % str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    m = re.search(r"result True (\d+) \(2, (\d+)\)", out)
    assert m, out + err
    assert 0 < int(m.group(1)) == int(m.group(2)) < 200000
    assert time.time() - sent < 10
    assert "interrupted" in err and "sampling was interrupted" in err
    # The partial fit is a whole fit: it writes files marked cancelled.
    back = rmc.read_csv(str(tmp_path))
    assert back.interrupted and back.num_draws == int(m.group(1))


def test_c_messages_reach_logging(caplog):
    with caplog.at_level(logging.DEBUG, logger="rmc"):
        rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=1, draws=10,
                   warmup=10, seed=1, backend="auto", progress=False)
    records = [r for r in caplog.records if r.name == "rmc"]
    # Under backend="auto" the library always says which backend it chose, and why.
    assert any(r.levelno == logging.INFO and "auto" in r.getMessage() for r in records), \
        [r.getMessage() for r in records]


def test_vulkan_batched_driver_reports_the_same(last_report):
    """The batched (Vulkan) driver counts progress in its own loop: the same totals."""
    device = os.environ.get("RMC_TEST_VULKAN_DEVICE", "llvmpipe")
    ok, why = rmc.vulkan_status()
    if not ok:
        pytest.skip("no Vulkan here (%s); install mesa-vulkan-drivers for lavapipe" % why)
    try:
        fit = rmc.sample(centred_schools(), {"y": Y, "sigma": SIGMA}, chains=4, draws=200,
                         warmup=100, seed=4, target_accept=0.6, backend="vulkan",
                         device=device, progress="text")
    except rmc.RmcError as exc:
        pytest.skip("no Vulkan device %r can run: %s" % (device, exc.message))
    assert fit.backend == "vulkan"
    (done, total, warm, warm_total, divergent, _), _ = last_report[-1]
    assert (done, total, warm, warm_total) == (1200, 1200, 400, 400)
    assert divergent == fit.num_divergent
