"""GPU telemetry with a fake device: a fake `nvidia-smi` on PATH (a real executable that
answers the query like the driver's tool, from a script of samples), and a fake NVML module
at the backend's boundary. Without a GPU the sampler returns None, quickly."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from arena.result import result_errors
from runner import telemetry
from runner.telemetry import NvmlBackend, Sampler, SmiBackend, detect, throttle_note

FAKE_SMI = """#!{python}
# A fake nvidia-smi: answers --query-gpu=...,<reason field> --format=csv,noheader,nounits with
# the next line of $FAKE_SMI_SAMPLES (the last one repeats); knows only the reason field in
# $FAKE_SMI_REASON_FIELD, like a driver of that generation.
import os, sys
args = sys.argv[1:]
q = next((a for a in args if a.startswith("--query-gpu=")), None)
if q is None or "--format=csv,noheader,nounits" not in args:
    sys.exit("fake nvidia-smi: unexpected arguments " + " ".join(args))
fields = q.split("=", 1)[1].split(",")
if fields[-1] != os.environ.get("FAKE_SMI_REASON_FIELD", "clocks_event_reasons.active"):
    print(f'Field "{{fields[-1]}}" is not a valid field to query.', file=sys.stderr)
    sys.exit(2)
lines = open(os.environ["FAKE_SMI_SAMPLES"]).read().splitlines()
counter = os.environ["FAKE_SMI_SAMPLES"] + ".n"
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
print(lines[min(n, len(lines) - 1)])
"""

STEADY = "NVIDIA A10G, 1710, 6251, 148.52, 61, 98, 0x0000000000000000"
POWER_CAPPED = "NVIDIA A10G, 1395, 6251, 150.01, 79, 99, 0x0000000000000004"
HOT = "NVIDIA A10G, 1200, 6251, 149.10, 88, 99, 0x0000000000000060"
IDLE = "NVIDIA A10G, 210, 405, 15.20, 35, 0, 0x0000000000000001"


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(FAKE_SMI.format(python=sys.executable))
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    samples = tmp_path / "samples.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SMI_SAMPLES", str(samples))
    # no NVML here: the nvidia-smi fallback is what is under test
    monkeypatch.setitem(sys.modules, "pynvml", None)

    def script(*lines: str) -> None:
        # the first line once more: detection's own query reads it
        samples.write_text("\n".join((lines[0], *lines)) + "\n")
        Path(str(samples) + ".n").unlink(missing_ok=True)
    return script


def test_nvidia_smi_samples_are_summarized_and_a_power_cap_is_throttling(fake_smi):
    fake_smi(STEADY, STEADY, POWER_CAPPED, STEADY, STEADY)
    backend = detect()
    assert isinstance(backend, SmiBackend) and backend.gpu == "NVIDIA A10G"
    with Sampler(interval_s=0.05, backend=backend) as s:
        with s.window():
            time.sleep(0.6)
    t = s.summary()
    assert t["source"] == "nvidia-smi" and t["samples"] >= 4
    assert t["metrics"]["sm_clock_mhz"]["min"] == 1395.0
    assert t["metrics"]["sm_clock_mhz"]["max"] == 1710.0
    assert t["metrics"]["temperature_c"]["median"] == 61.0
    assert t["throttle_reasons"] == {"sw_power_cap": 1}
    assert t["throttled"] is True
    note = throttle_note(t)
    assert "sw_power_cap (1 of" in note


def test_thermal_slowdowns_are_named(fake_smi):
    fake_smi(STEADY, HOT)
    s = Sampler(interval_s=0.05)
    with s.window():
        time.sleep(0.2)
    s.stop()
    t = s.summary()
    assert {"sw_thermal_slowdown", "hw_thermal_slowdown"} <= set(t["throttle_reasons"])
    assert t["throttled"]


def test_idle_and_steady_samples_are_not_throttling(fake_smi):
    fake_smi(IDLE, STEADY, STEADY)
    s = Sampler(interval_s=0.05)
    with s.window():
        time.sleep(0.3)
    s.stop()
    t = s.summary()
    assert t["throttle_reasons"].get("gpu_idle") == 1
    assert t["throttled"] is False
    assert throttle_note(t) is None


def test_only_windows_are_sampled(fake_smi):
    fake_smi(STEADY)
    with Sampler(interval_s=0.02) as s:
        time.sleep(0.3)  # between windows: nothing
        assert s.samples == []
        with s.window():
            pass  # a very short window still has its start and end samples
    assert s.summary()["samples"] == 2


def test_an_older_driver_s_reason_field_is_used(fake_smi, monkeypatch):
    monkeypatch.setenv("FAKE_SMI_REASON_FIELD", "clocks_throttle_reasons.active")
    fake_smi(POWER_CAPPED)
    b = SmiBackend()
    assert b.reason_field == "clocks_throttle_reasons.active"
    assert b.sample().reasons == ["sw_power_cap"]


def test_the_summary_fits_the_result_schema(fake_smi):
    from tests.support import sample

    fake_smi(STEADY, POWER_CAPPED)
    s = Sampler(interval_s=0.05)
    with s.window():
        time.sleep(0.1)
    s.stop()
    doc = sample.make_result("alice/x", checks=[])
    doc["telemetry"] = s.summary()
    assert result_errors(doc) == []
    doc["telemetry"]["throttle_reasons"] = {"<script>": 1}
    assert result_errors(doc)  # names are a closed shape: nothing odd reaches the site


def test_without_a_gpu_the_summary_is_none_and_quick(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setitem(sys.modules, "pynvml", None)  # no nvidia-ml-py
    t0 = time.monotonic()
    s = Sampler(interval_s=0.05)
    with s:
        with s.window():
            pass
    assert s.summary() is None
    assert time.monotonic() - t0 < 1.0
    assert throttle_note(None) is None


def test_a_broken_nvidia_smi_is_no_gpu(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate "
                   "with the NVIDIA driver.' >&2\nexit 9\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert detect() is None


class FakeNvml:
    """pynvml's surface as the backend uses it, with a scripted sequence of readings."""
    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 1, 2, 0

    def __init__(self, readings):
        self.readings = list(readings)
        self.i = 0
        self.shut = False

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("gpu", i)

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA L4"

    def _now(self):
        return self.readings[min(self.i, len(self.readings) - 1)]

    def nvmlDeviceGetClockInfo(self, h, which):
        return self._now()["sm" if which == self.NVML_CLOCK_SM else "mem"]

    def nvmlDeviceGetPowerUsage(self, h):
        return self._now()["mw"]

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._now()["temp"]

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=97)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        r = self._now()["reasons"]
        self.i += 1
        return r


def test_nvml_backend_reads_and_decodes(monkeypatch):
    fake = FakeNvml([{"sm": 2040, "mem": 6251, "mw": 71500, "temp": 70, "reasons": 0},
                     {"sm": 1800, "mem": 6251, "mw": 72000, "temp": 83, "reasons": 0x80}])
    b = NvmlBackend(nvml=fake)
    s = Sampler(backend=b, interval_s=10)
    with s.window():
        pass
    s.stop()
    t = s.summary()
    assert t["source"] == "nvml" and t["gpu"] == "NVIDIA L4"
    assert t["metrics"]["power_w"] == {"min": 71.5, "median": 71.75, "max": 72.0}
    assert t["throttle_reasons"] == {"hw_power_brake_slowdown": 1} and t["throttled"]
    assert fake.shut  # closed with the sampler
    assert json.dumps(t)  # plain JSON


def test_nvml_is_preferred_when_it_answers(monkeypatch, fake_smi):
    fake = FakeNvml([{"sm": 1, "mem": 1, "mw": 1, "temp": 1, "reasons": 0}])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    fake_smi(STEADY)
    assert isinstance(telemetry.detect(), NvmlBackend)
