"""Progress bars for rmc.sample, and librmc's log messages routed to Python's logging.

The C driver reports progress through ``rmc_config.progress_info`` from the thread that
runs the sampler, at most every 100 ms and never from the sampling loop itself; this module
turns each report into a bar on stderr: tqdm's when tqdm is installed, else a small one of
its own. Library messages go to the ``"rmc"`` logger.
"""

import logging
import sys
import time

from . import _lib

__all__ = ["ProgressBar", "logger"]

#: The logger that receives librmc's messages (rmc_set_log_callback), by level.
logger = logging.getLogger("rmc")

_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


def _on_log(level, message, user):
    """The C log callback: one message to the rmc logger. Never raises into C."""
    try:
        logger.log(_LEVELS.get(level, logging.ERROR),
                   (message or b"").decode("utf-8", errors="replace"))
    except Exception:   # a broken handler must not unwind through the C library
        pass


# Kept alive for as long as the library may call it: for the life of the process.
_LOG_CALLBACK = _lib.LOG_FN(_on_log)


def route_logs():
    """Send librmc's messages to the ``rmc`` logger (done at import; call again after
    anything else took over ``rmc_set_log_callback``)."""
    _lib.lib.rmc_set_log_callback(_LOG_CALLBACK, None)


def _tqdm():
    """tqdm's auto class (a notebook widget in Jupyter, text elsewhere), or None."""
    try:
        from tqdm.auto import tqdm
    except Exception:   # not installed, or broken: the built-in bar serves
        return None
    return tqdm


def _phase(done, warmup_done, warmup_total):
    """What the chains are doing. With more chains than threads, later chains warm up
    while earlier ones sample: the bar then says both."""
    if warmup_done >= warmup_total:
        return "sampling"
    return "warmup" if done == warmup_done else "warmup+sampling"


class ProgressBar:
    """One run's bar: :meth:`update` takes the C report, :meth:`close` ends the line.

    ``kind`` is "tqdm", "text" (the built-in bar) or "auto" (tqdm when installed). The
    built-in bar redraws in place at most every 0.1 s on a terminal; when stderr is not a
    terminal (logs, CI) it writes a line at most every 10 s and a last one at the end.
    """

    def __init__(self, chains, kind="auto", stream=None):
        if kind not in ("auto", "text", "tqdm"):
            raise ValueError("progress must be True, False, 'auto', 'text' or 'tqdm', got %r"
                             % (kind,))
        self.chains = chains
        self.stream = stream if stream is not None else sys.stderr
        self.tqdm = None
        self.last = None            # the latest report, as a plain tuple
        self._drawn = 0.0
        self._width = 0
        tqdm = _tqdm() if kind in ("auto", "tqdm") else None
        if kind == "tqdm" and tqdm is None:
            raise ImportError("progress='tqdm' needs tqdm (python3 -m pip install tqdm)")
        if tqdm is not None:
            self.tqdm = tqdm(total=1, file=self.stream, unit="draw", dynamic_ncols=True,
                             desc="warmup", leave=True)
        try:
            self.tty = bool(self.stream.isatty())
        except Exception:
            self.tty = False

    def update(self, done, total, warmup_done, warmup_total, divergent, seconds):
        """Take one report; redraw when enough time has passed."""
        self.last = (done, total, warmup_done, warmup_total, divergent, seconds)
        phase = _phase(done, warmup_done, warmup_total)
        if self.tqdm is not None:
            self.tqdm.total = total
            self.tqdm.set_description(phase, refresh=False)
            self.tqdm.set_postfix(divergent=divergent, refresh=False)
            self.tqdm.update(done - self.tqdm.n)
            return
        now = time.monotonic()
        if now - self._drawn < (0.1 if self.tty else 10.0):
            return
        self._drawn = now
        self._draw(phase, done, total, divergent, seconds)

    def _draw(self, phase, done, total, divergent, seconds, final=False):
        share = done / total if total else 1.0
        filled = int(round(20 * share))
        rate = done / seconds if seconds > 0 else 0.0
        text = ("%-15s |%s%s| %3d%% %d/%d draws, %.0f draws/s, %d divergent, %.1f s"
                % (phase, "#" * filled, "-" * (20 - filled), int(100 * share), done, total,
                   rate, divergent, seconds))
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, interrupted=False):
        """Finish the bar, saying so when the run was interrupted."""
        if self.tqdm is not None:
            if interrupted:
                self.tqdm.set_description("interrupted", refresh=False)
            self.tqdm.close()
            return
        if self.last is None:
            return
        done, total, warmup_done, warmup_total, divergent, seconds = self.last
        phase = "interrupted" if interrupted else _phase(done, warmup_done, warmup_total)
        self._draw(phase, done, total, divergent, seconds, final=True)

    def callback(self):
        """The ctypes function to put in ``rmc_config.progress_info`` (keep a reference
        for as long as the run lasts). Exceptions never reach C: a failing bar is
        dropped, the run goes on."""
        def report(info_p, user):
            try:
                i = info_p.contents
                self.update(i.done, i.total, i.warmup_done, i.warmup_total, i.divergent,
                            i.seconds)
            except Exception:
                self.tqdm = None
                self.update = lambda *a: None
            return 0
        return _lib.PROGRESS_INFO_FN(report)


route_logs()
