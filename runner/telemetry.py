"""GPU telemetry during the timed passes: clocks, power, temperature, utilization and the
throttle ("clocks event") reasons, sampled by a thread, summarized for the result.

A runner whose GPU throttles (a power cap, heat, a hardware slowdown) measures less than the
configuration can do, and the fingerprint (GPU name, driver) does not show it. The summary goes
into the result's optional `telemetry` object (arena.result.RESULT_SCHEMA); the bot's comment
and the run's card on the site warn when `throttled` is true.

Backends, first that works: NVML through `nvidia-ml-py` (module `pynvml`, imported lazily; the
`gpu` extra installs it), then `nvidia-smi --query-gpu=... --format=csv`. Without a GPU (no
NVML, no nvidia-smi, or neither answers) `Sampler` does nothing and `summary()` is None, found
out in well under a second.

    sampler = Sampler()
    with sampler:                      # the thread (nothing without a GPU)
        with sampler.window():         # samples only inside windows: the timed passes
            ...
    result["telemetry"] = sampler.summary()
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

from arena.result import THROTTLING_REASONS, Telemetry, throttle_text

# NVML's clocks event (throttle) reason bits, nvmlClocksEventReason*.
REASON_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# The reasons that mean the GPU ran slower than it could for this work (idle, an application
# clock setting and sync boost do not).
THROTTLING = THROTTLING_REASONS
METRICS = ("sm_clock_mhz", "mem_clock_mhz", "power_w", "temperature_c", "utilization_pct")
SMI_FIELDS = ("name", "clocks.sm", "clocks.mem", "power.draw", "temperature.gpu",
              "utilization.gpu")
SMI_REASON_FIELDS = ("clocks_event_reasons.active", "clocks_throttle_reasons.active")
MAX_SAMPLES = 20000  # a day at one per 5 s; older samples are kept, newer dropped


def decode_reasons(mask: int) -> list[str]:
    return [name for bit, name in REASON_BITS.items() if mask & bit]


@dataclass
class Sample:
    metrics: dict[str, float]
    reasons: list[str]


class Backend(Protocol):
    source: str
    gpu: str | None

    def sample(self) -> Sample: ...

    def close(self) -> None: ...


class NvmlBackend:
    source = "nvml"

    def __init__(self, index: int = 0, nvml: Any = None):
        if nvml is None:
            import pynvml as nvml  # type: ignore[import-not-found]  # nvidia-ml-py, optional
        self.nvml = nvml
        nvml.nvmlInit()
        try:
            self.handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(self.handle)
            self.gpu = (name.decode() if isinstance(name, bytes) else str(name))[:200]
        except Exception:
            nvml.nvmlShutdown()
            raise

    def _reasons(self) -> int:
        n = self.nvml
        get = getattr(n, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            n.nvmlDeviceGetCurrentClocksThrottleReasons
        return int(get(self.handle))

    def sample(self) -> Sample:
        n, h = self.nvml, self.handle
        m: dict[str, float] = {}
        for key, read in (
                ("sm_clock_mhz", lambda: n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM)),
                ("mem_clock_mhz", lambda: n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_MEM)),
                ("power_w", lambda: n.nvmlDeviceGetPowerUsage(h) / 1000.0),
                ("temperature_c", lambda: n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU)),
                ("utilization_pct", lambda: n.nvmlDeviceGetUtilizationRates(h).gpu)):
            try:
                m[key] = float(read())
            except Exception:  # a metric this GPU does not report
                continue
        return Sample(m, decode_reasons(self._reasons()))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()


class SmiBackend:
    source = "nvidia-smi"

    def __init__(self, index: int = 0, smi: str | None = None, timeout_s: float = 5.0):
        self.smi = smi or shutil.which("nvidia-smi")
        if not self.smi:
            raise RuntimeError("nvidia-smi is not on PATH")
        self.index, self.timeout_s = index, timeout_s
        self.gpu: str | None = None
        self.reason_field: str | None = None
        for f in SMI_REASON_FIELDS:  # the newer name first; older drivers know the other
            try:
                cells = self._query(f)
            except (OSError, subprocess.SubprocessError, ValueError):
                continue
            self.reason_field = f
            self.gpu = cells[0][:200] or None
            break
        if self.reason_field is None:
            raise RuntimeError("nvidia-smi does not answer the telemetry query")

    def _query(self, reason_field: str) -> list[str]:
        out = subprocess.run(
            [self.smi, f"--query-gpu={','.join(SMI_FIELDS)},{reason_field}",
             "--format=csv,noheader,nounits", "-i", str(self.index)],
            capture_output=True, text=True, timeout=self.timeout_s, check=True).stdout
        line = out.strip().splitlines()[0] if out.strip() else ""
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(SMI_FIELDS) + 1:
            raise ValueError(f"unexpected nvidia-smi output: {line[:200]!r}")
        return cells

    def sample_row(self) -> list[str]:
        return self._query(self.reason_field or SMI_REASON_FIELDS[0])

    def sample(self) -> Sample:
        cells = self.sample_row()
        m: dict[str, float] = {}
        for key, raw in zip(METRICS, cells[1:6]):
            try:
                m[key] = float(raw)
            except ValueError:  # "[N/A]", "[Not Supported]"
                continue
        try:
            mask = int(cells[6], 16)
        except ValueError:
            mask = 0
        return Sample(m, decode_reasons(mask))

    def close(self) -> None:
        pass


def detect(index: int = 0) -> Backend | None:
    """The first backend that answers, or None (no GPU)."""
    try:
        return NvmlBackend(index)
    except Exception:  # no nvidia-ml-py, no driver, no device
        pass
    try:
        return SmiBackend(index)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError):
        return None


@dataclass
class Sampler:
    """Samples the GPU every `interval_s` seconds inside windows (see the module)."""

    interval_s: float = 1.0
    backend: Backend | None = None
    detector: Callable[[], Backend | None] = detect
    samples: list[Sample] = field(default_factory=list)
    max_failures: int = 5

    def __post_init__(self) -> None:
        self._active = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._detected = self.backend is not None
        self._seconds = 0.0
        self._failures = 0

    def _ensure_backend(self) -> Backend | None:
        if not self._detected:
            self.backend = self.detector()
            self._detected = True
        return self.backend

    def start(self) -> "Sampler":
        if self._ensure_backend() is None or self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gpu-telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._active.clear()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.backend is not None:
            self.backend.close()

    def __enter__(self) -> "Sampler":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        """Sample while the block runs (one sample at its start and one at its end at least)."""
        if self._ensure_backend() is None:
            yield
            return
        self.start()
        t0 = time.monotonic()
        self._take()
        self._active.set()
        try:
            yield
        finally:
            self._active.clear()
            self._take()
            self._seconds += time.monotonic() - t0

    def _take(self) -> None:
        if self.backend is None or self._failures >= self.max_failures:
            return
        try:
            s = self.backend.sample()
        except Exception:  # a transient failure; several in a row stop the sampling
            self._failures += 1
            return
        self._failures = 0
        with self._lock:
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append(s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._active.wait(timeout=0.1) and not self._stop.wait(self.interval_s):
                if self._active.is_set():
                    self._take()

    def summary(self) -> dict[str, Any] | None:
        """The result's `telemetry` object, or None without a GPU."""
        if self.backend is None:
            return None
        with self._lock:
            samples = list(self.samples)
        metrics: dict[str, dict[str, float]] = {}
        for key in METRICS:
            vals = [s.metrics[key] for s in samples if key in s.metrics]
            if vals:
                metrics[key] = {"min": round(min(vals), 3),
                                "median": round(statistics.median(vals), 3),
                                "max": round(max(vals), 3)}
        reasons: dict[str, int] = {}
        for s in samples:
            for r in s.reasons:
                reasons[r] = reasons.get(r, 0) + 1
        return {"source": self.backend.source, "gpu": self.backend.gpu,
                "samples": len(samples), "interval_s": float(self.interval_s),
                "duration_s": round(self._seconds, 3), "metrics": metrics,
                "throttle_reasons": dict(sorted(reasons.items())),
                "throttled": any(r in THROTTLING for r in reasons)}


def throttle_note(telemetry: dict[str, Any] | None) -> str | None:
    """One sentence for people when a run throttled, else None (the bot's comment uses it;
    the words are the result description's, arena.result.throttle_text)."""
    return throttle_text(Telemetry.from_json(telemetry)) if telemetry else None
