"""Where training is inside an epoch, and how long compiling took.

The host runs an epoch's steps in segments of about `SEGMENT_SECONDS` (see `Pace`):
between two segments it reports a `StepProgress` (steps done, samples per second,
ETA) to the caller's `on_step`, and a Ctrl-C is acted on there (`DeferredInterrupt`),
stopping the run within about a segment's time. Compiling is measured from JAX's own
compile events (`CompileClock`), so it is reported apart from the time the steps take.
"""
from __future__ import annotations

import collections
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass

from . import backend as _backend  # noqa: F401
import jax

SEGMENT_SECONDS = 0.5   # target wall time of one segment of steps: progress and Ctrl-C at least this often
FIRST_SEGMENT = 2       # steps in an epoch's first segment while the time per step is unknown


@dataclass(frozen=True)
class StepProgress:
    """One report from inside an epoch (engine.train's `on_step`).

    step/steps count optimizer steps of this epoch (each member takes the same steps);
    samples: training rows seen this epoch by each member; seconds: since the epoch began,
    compile_seconds of it compiling; phase: "training" (steps), "evaluating" (the epoch's
    inference-mode metrics)."""
    epoch: int
    epochs: int
    step: int
    steps: int
    samples: int
    rows: int                 # training rows per epoch (per member)
    members: int              # members still training
    seconds: float
    compile_seconds: float
    phase: str = "training"
    epoch_seconds: float | None = None  # how long a whole epoch took so far (mean, compiling excluded)

    @property
    def samples_per_second(self) -> float:
        """Training rows per second, all members together, compiling excluded."""
        busy = self.seconds - self.compile_seconds
        return self.samples * self.members / busy if busy > 0 and self.samples else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds to the end of this epoch's steps, or None while unknown."""
        rate = self.samples_per_second / max(self.members, 1)
        return (self.rows - self.samples) / rate if rate > 0 else None

    @property
    def run_eta_seconds(self) -> float | None:
        """Seconds to the end of the last epoch (early stopping may end it sooner), or None until an epoch
        has finished (its time, compiling excluded, is what the epochs to come take: a rate measured
        inside the first epoch, while compiling, is not)."""
        left = self.eta_seconds
        if left is None or self.epoch_seconds is None:
            return None
        return left + self.epoch_seconds * (self.epochs - self.epoch)

    def text(self) -> str:
        """One line for a person: epoch, steps, samples per second, ETA (or what it is doing)."""
        head = f"epoch {self.epoch}/{self.epochs}"
        if self.phase == "evaluating":
            return f"{head}  evaluating train/val/test rows"
        parts = [head, f"step {self.step}/{self.steps}"]
        rate, eta = self.samples_per_second, self.eta_seconds
        if rate:
            parts.append(f"{rate:,.0f} samples/s")
        if eta is not None:
            run = self.run_eta_seconds if self.epoch < self.epochs else None
            parts.append(f"ETA {_duration(eta)}" + (f" (run {_duration(run)})" if run is not None else ""))
        if self.compile_seconds >= 0.5:
            parts.append(f"compiling {self.compile_seconds:.1f}s")
        return "  ".join(parts)

    def to_json(self) -> dict:
        """A plain dict (what a live page would poll): the fields and the derived rates."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {**asdict(self), "samples_per_second": self.samples_per_second,
                "eta_seconds": clean(self.eta_seconds), "run_eta_seconds": clean(self.run_eta_seconds)}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


class CompileClock:
    """Seconds spent compiling (tracing, lowering, XLA), from JAX's monitoring events; nested
    spans (a function traced inside another's trace) are counted once."""
    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        self.spans: collections.deque = collections.deque(maxlen=4096)
        self.lock = threading.Lock()

    def __call__(self, event: str, start: float, end: float, **_) -> None:
        if event in self.EVENTS:
            with self.lock:
                self.spans.append((start, end))

    def seconds(self, since: float, until: float | None = None) -> float:
        """Compiling between two `time.time()` moments: the union of the spans in [since, until]."""
        until = time.time() if until is None else until
        with self.lock:
            spans = sorted((max(s, since), min(e, until)) for s, e in self.spans if e > since and s < until)
        total, reach = 0.0, since
        for s, e in spans:
            if e > reach:
                total += e - max(s, reach)
                reach = e
        return total


COMPILE_CLOCK = CompileClock()
jax.monitoring.register_event_time_span_listener(COMPILE_CLOCK)


class Pace:
    """How many steps the next segment takes: about `target` seconds at the last measured
    time per step (compiling excluded), at least twice the previous segment while unmeasured."""

    def __init__(self, target: float | None = None, first: int = FIRST_SEGMENT):
        self.target, self.first = SEGMENT_SECONDS if target is None else target, first
        self.per_step: float | None = None

    def next(self, remaining: int, previous: int = 0, multiple: int = 1) -> int:
        if self.per_step is None:
            count = max(self.first, 2 * previous)
        else:
            count = max(1, int(self.target / max(self.per_step, 1e-9)))
        count = min(remaining, count)
        return max(count - count % multiple, min(remaining, multiple))

    def measured(self, steps: int, seconds: float, compiling: float) -> None:
        busy = seconds - compiling
        if steps and busy > 0 and compiling < 0.5 * seconds:
            self.per_step = busy / steps


class DeferredInterrupt:
    """Ctrl-C (SIGINT) while training, acted on where the loop can stop cleanly.

    Python raises KeyboardInterrupt wherever the main thread happens to be; inside a callback
    that JAX calls from C++ (its garbage-collection callback) the exception is printed as
    "Exception ignored" and lost, and the run trains on. Inside this context a SIGINT only
    sets a flag, and `check()` (between segments of steps, and before each epoch) raises
    KeyboardInterrupt there. A second Ctrl-C raises at once. Outside the main thread, or
    when SIGINT is not Python's default handler (someone else's), nothing changes."""

    def __init__(self):
        self.pending, self.previous = False, None

    def _handler(self, signum, frame) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt   # asked for during the last steps: still an interrupt

    def check(self) -> None:
        if self.pending:
            raise KeyboardInterrupt
