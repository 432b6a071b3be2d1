"""The runner-operations scripts do what docs/runner.md says, run for real against fake commands.

The scripts drive `docker`, `gh`, `ssh` and `nvidia-smi`; those are replaced by small recording
fakes on PATH (the boundary). Everything else (the scripts' own logic, bash, coreutils, and the
Hugging Face cache layout read by huggingface_hub itself) is real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from arena.challenge import load_challenge

from .conftest import REPO

OPS = REPO / "runner-ops"
SHA = "0123456789abcdef0123456789abcdef01234567"


def fake(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def run(script: str, *args: str, env: dict[str, str], bin_dir: Path,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    full = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp"),
            "LC_ALL": "C.UTF-8", **env}
    return subprocess.run(["bash", str(OPS / script), *args], env=full, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


# A fake `docker` that records each call's arguments (one per line) and the JIT variable.
RECORDING_DOCKER = r'''
log="$FAKE_LOG/docker.$(date +%s%N)"
printf '%s\n' "$@" > "$log.args"
printf '%s' "${ACTIONS_RUNNER_INPUT_JITCONFIG-<unset>}" > "$log.jit"
exit "${FAKE_DOCKER_EXIT:-0}"
'''


def docker_calls(log: Path) -> list[tuple[list[str], str]]:
    calls = []
    for args in sorted(log.glob("docker.*.args")):
        jit = args.with_suffix(".jit").read_text()
        calls.append((args.read_text().splitlines(), jit))
    return calls


# Fakes of the root-only commands cache-volume.sh runs (mount, mkfs, ...): each records its
# arguments, in order, to one log; `mountpoint` answers from a file the fake `mount` keeps.
RECORDING_SYSTEM = r'''
printf '%s %s\n' "${0##*/}" "$*" >> "$FAKE_LOG/system"
case ${0##*/} in
  mount) printf '%s\n' "${!#}" >> "$FAKE_LOG/mounted" ;;
  umount) grep -vxF "$1" "$FAKE_LOG/mounted" > "$FAKE_LOG/mounted.new" || true; mv "$FAKE_LOG/mounted.new" "$FAKE_LOG/mounted" ;;
  mountpoint) grep -qxF "${!#}" "$FAKE_LOG/mounted" 2>/dev/null ;;
esac
'''


def system_calls(log: Path) -> list[str]:
    path = log / "system"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("bin", "log", "private", "models", "spool",
                                                "release", "volumes")}
    for name in ("log", "private", "models", "release"):
        paths[name].mkdir()
    fake(paths["bin"], "docker", RECORDING_DOCKER)
    for name in ("mount", "umount", "mountpoint", "mkfs.ext4", "chown", "truncate"):
        fake(paths["bin"], name, RECORDING_SYSTEM)
    # The release service's socket (arena-private-release.service), nobody listening.
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(paths["release"] / "private.sock"))
    return paths


def launcher_env(host: dict[str, Path], **extra: str) -> dict[str, str]:
    return {"ARENA_RUNNER_IMAGE": "arena-runner@sha256:" + "a" * 64,
            "ARENA_REPOSITORY": "octo-org/arena", "ARENA_REPOSITORY_ID": "4242",
            "ARENA_PRIVATE_DIR": str(host["private"]), "ARENA_MODEL_CACHE_DIR": str(host["models"]),
            "ARENA_RELEASE_DIR": str(host["release"]), "ARENA_JOB_VOLUMES": str(host["volumes"]),
            "ARENA_JIT_SPOOL": str(host["spool"]), "FAKE_LOG": str(host["log"]), **extra}


def add_config(spool: Path, name: str, content: str, age_hours: float = 0) -> Path:
    (spool / "new").mkdir(parents=True, exist_ok=True)
    path = spool / "new" / f"{name}.jit"
    path.write_text(content)
    then = time.time() - age_hours * 3600
    os.utime(path, (then, then))
    return path


# launch.sh

def test_the_launcher_starts_one_isolated_container_per_config_and_spends_it(host) -> None:
    stale = add_config(host["spool"], "arena-a10g-old", "OLD-CONFIG", age_hours=25)
    fresh = add_config(host["spool"], "arena-a10g-new", "FRESH-CONFIG-SECRET")
    done = run("launch.sh", "--gpu", "1", "--once", env=launcher_env(host), bin_dir=host["bin"])
    assert done.returncode == 0, done.stderr
    [(args, jit)] = docker_calls(host["log"])
    # The configuration travels in the environment, never on the command line.
    assert jit == "FRESH-CONFIG-SECRET"
    assert not any("FRESH-CONFIG-SECRET" in a for a in args)
    command = " ".join(args)
    assert args[:2] == ["run", "--rm"]
    assert "--gpus device=1" in command
    assert "--network arena-jobs" in command
    # Issue 13: the private set is never mounted; the job gets an empty folder of its own and
    # the release service's socket, and the policy its hook judges it by, read-only.
    assert str(host["private"]) not in command
    assert "--tmpfs /srv/arena/private:rw,nosuid,nodev,noexec,size=512m,uid=1001,gid=1001,mode=0700" in command
    assert f"--mount type=bind,source={host['release']},target=/run/arena-release,readonly" in command
    policy = host["spool"] / "policy" / "gpu1"
    assert f"--mount type=bind,source={policy},target=/etc/arena/job-policy,readonly" in command
    assert policy.read_text() == "repository=octo-org/arena\ndefault_branch=main\nrepository_id=4242\n"
    assert f"--mount type=bind,source={host['models']},target=/srv/arena/models,readonly" in command
    assert "--cap-drop ALL" in command and "--security-opt no-new-privileges:true" in command
    assert "--env HTTPS_PROXY=http://arena-egress-proxy:3128" in command
    assert "--privileged" not in command and "docker.sock" not in command
    assert "seccomp=unconfined" not in command and "apparmor=unconfined" not in command
    assert args[-1] == "arena-runner@sha256:" + "a" * 64
    # Spent, and the stale one set aside unused (GitHub has dropped that runner by now).
    assert not fresh.exists() and not list((host["spool"] / "claimed").iterdir())
    assert (host["spool"] / "expired" / stale.name).read_text() == "OLD-CONFIG"
    assert stat.S_IMODE((host["spool"] / "new").stat().st_mode) == 0o700


def test_a_config_is_spent_even_when_the_runner_fails(host) -> None:
    config = add_config(host["spool"], "arena-a10g-x", "CONFIG")
    done = run("launch.sh", "--gpu", "0", "--once", env=launcher_env(host, FAKE_DOCKER_EXIT="1"),
               bin_dir=host["bin"])
    assert done.returncode == 0
    assert "runner exited with status 1" in done.stdout
    assert not config.exists() and not list((host["spool"] / "claimed").iterdir())


def test_the_launcher_takes_the_oldest_config_first(host) -> None:
    add_config(host["spool"], "b-newer", "NEWER", age_hours=1)
    add_config(host["spool"], "a-older", "OLDER", age_hours=2)
    run("launch.sh", "--gpu", "0", "--once", env=launcher_env(host), bin_dir=host["bin"])
    assert [jit for _, jit in docker_calls(host["log"])] == ["OLDER"]
    assert (host["spool"] / "new" / "b-newer.jit").exists()


def test_the_launcher_with_an_empty_spool_starts_nothing_and_says_why(host) -> None:
    done = run("launch.sh", "--gpu", "0", "--once", env=launcher_env(host), bin_dir=host["bin"])
    assert done.returncode == 0
    assert "no just-in-time configuration" in done.stdout
    assert docker_calls(host["log"]) == []


def test_the_job_container_has_memory_and_disk_limits(host) -> None:
    add_config(host["spool"], "arena-a10g-x", "CONFIG")
    done = run("launch.sh", "--gpu", "0", "--once", env=launcher_env(host, ARENA_JOB_CPUS="7.5"),
               bin_dir=host["bin"])
    assert done.returncode == 0, done.stderr
    [(args, _)] = docker_calls(host["log"])
    command = " ".join(args)
    # Memory: the limit, and no swap beyond it (memory-swap equal to memory).
    assert "--memory 56g --memory-swap 56g" in command and "--cpus 7.5" in command
    assert "--pids-limit 8192" in command
    # Disk: the model cache and the work folder are on the job's size-limited volume, remade
    # empty before the container starts.
    volume = host["volumes"] / "gpu0"
    assert f"--mount type=bind,source={volume}/hf-cache,target=/home/runner/hf-cache" in command
    assert f"--mount type=bind,source={volume}/work,target=/home/runner/_work" in command
    calls = system_calls(host["log"])
    assert f"truncate --size 200G {host['volumes']}/gpu0.ext4" in calls
    assert any(c.startswith("mkfs.ext4 ") and c.endswith(f"{host['volumes']}/gpu0.ext4") for c in calls)
    assert f"mount -o loop,nosuid,nodev {host['volumes']}/gpu0.ext4 {volume}" in calls
    assert f"chown 1001:1001 {volume}/hf-cache {volume}/work" in calls


def test_the_job_container_gets_what_the_engine_sandbox_needs_and_no_more(host) -> None:
    add_config(host["spool"], "arena-a10g-x", "CONFIG")
    run("launch.sh", "--gpu", "0", "--once", env=launcher_env(host), bin_dir=host["bin"])
    [(args, _)] = docker_calls(host["log"])
    command = " ".join(args)
    assert f"--security-opt seccomp={OPS}/seccomp/arena-job.json" in command
    assert "--security-opt apparmor=arena-job" in command
    assert "--security-opt systempaths=unconfined" in command
    assert "--cap-drop ALL" in command and "--cap-add" not in command and "--privileged" not in command


def test_a_volume_reset_remakes_a_mounted_volume_empty(host) -> None:
    env = {"ARENA_JOB_VOLUMES": str(host["volumes"]), "ARENA_JOB_DISK_GIB": "50",
           "FAKE_LOG": str(host["log"])}
    assert run("cache-volume.sh", "reset", "--gpu", "3", env=env, bin_dir=host["bin"]).returncode == 0
    done = run("cache-volume.sh", "reset", "--gpu", "3", env=env, bin_dir=host["bin"])
    assert done.returncode == 0, done.stderr
    calls = [c.split()[0] for c in system_calls(host["log"])]
    # The second reset unmounts the first filesystem, then makes and mounts a new one.
    assert calls == ["mountpoint", "truncate", "mkfs.ext4", "mount", "chown",
                     "mountpoint", "umount", "truncate", "mkfs.ext4", "mount", "chown"]
    assert f"truncate --size 50G {host['volumes']}/gpu3.ext4" in system_calls(host["log"])
    assert "empty 50 GiB volume" in done.stdout
    assert stat.S_IMODE(host["volumes"].stat().st_mode) == 0o700


@pytest.mark.parametrize(("args", "env", "message"), [
    (["reset"], {}, "--gpu INDEX is required"),
    (["reset", "--gpu", "0"], {"ARENA_JOB_DISK_GIB": "lots"}, "whole number of GiB"),
    (["show", "--gpu", "0"], {}, "is not mounted"),
])
def test_cache_volume_refuses_bad_arguments(host, args, env, message) -> None:
    done = run("cache-volume.sh", *args, env={"ARENA_JOB_VOLUMES": str(host["volumes"]),
                                             "FAKE_LOG": str(host["log"]), **env}, bin_dir=host["bin"])
    assert done.returncode == 2 and message in done.stderr


@pytest.mark.parametrize(("args", "env", "message"), [
    ([], {}, "--gpu INDEX is required"),
    (["--gpu", "x"], {}, "--gpu INDEX is required"),
    (["--gpu", "0"], {"ARENA_REPOSITORY": None}, "ARENA_REPOSITORY"),
    (["--gpu", "0"], {"ARENA_REPOSITORY": "not a repo"}, "ARENA_REPOSITORY must be OWNER/REPO"),
    (["--gpu", "0"], {"ARENA_JOB_MEMORY": "unlimited"}, "ARENA_JOB_MEMORY must be"),
    (["--gpu", "0"], {"ARENA_RELEASE_DIR": "/nonexistent"}, "no release socket at /nonexistent/private.sock"),
])
def test_the_launcher_refuses_a_bad_setup(host, args, env, message) -> None:
    full = {k: v for k, v in {**launcher_env(host), **env}.items() if v is not None}
    add_config(host["spool"], "arena-a10g-x", "CONFIG")
    done = run("launch.sh", *args, "--once", env=full, bin_dir=host["bin"])
    assert done.returncode != 0
    assert message in done.stderr
    assert docker_calls(host["log"]) == []


def test_the_seccomp_profile_allows_namespaces_and_refuses_what_jobs_never_need() -> None:
    profile = json.loads((OPS / "seccomp" / "arena-job.json").read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW" and profile["architectures"] == ["SCMP_ARCH_X86_64"]
    denied = {name for rule in profile["syscalls"] if rule["action"] != "SCMP_ACT_ALLOW"
              for name in rule["names"]}
    # What bubblewrap needs for user, PID, network, IPC and UTS namespaces and its mounts.
    assert not denied & {"unshare", "clone", "clone3", "setns", "mount", "umount2", "pivot_root",
                         "sethostname", "chroot", "prctl"}
    assert {"bpf", "kexec_load", "init_module", "finit_module", "perf_event_open", "keyctl",
            "ptrace", "process_vm_readv", "userfaultfd", "io_uring_setup", "open_by_handle_at",
            "reboot", "swapon"} <= denied
    assert all(rule.get("errnoRet") == 1 for rule in profile["syscalls"])


def test_the_apparmor_profile_is_the_one_the_launcher_names() -> None:
    text = (OPS / "apparmor" / "arena-job").read_text()
    assert "profile arena-job " in text and "\n  userns,\n" in text and "\n  mount,\n" in text
    assert "deny @{PROC}/sysrq-trigger rwklx," in text
    assert "ARENA_APPARMOR_PROFILE:-arena-job}" in (OPS / "launch.sh").read_text()


# jit-config.sh

# A fake `gh` that records each call and answers the API calls jit-config.sh makes: the
# runner group (by name, its settings and repositories), a repository's visibility, and the
# just-in-time configuration itself (ENCODED-<runner name>).
FAKE_GH = r'''
printf '%s\n' "$@" >> "$FAKE_LOG/gh.args"
printf -- '--\n' >> "$FAKE_LOG/gh.args"
endpoint=$2
[ "$2" = --method ] && endpoint=$4
case $endpoint in
  *generate-jitconfig) for a in "$@"; do case $a in name=*) printf 'ENCODED-%s\n' "${a#name=}" ;; esac; done ;;
  orgs/*/actions/runner-groups\?per_page=100) printf '%s\n' "${FAKE_GROUP_ID-7}" ;;
  orgs/*/actions/runner-groups/*/repositories*) printf '%s\n' "${FAKE_GROUP_REPOS-octo/arena}" ;;
  orgs/*/actions/runner-groups/*) printf '%s\t%s\t%s\n' "${FAKE_GROUP_VISIBILITY-selected}" \
      "${FAKE_GROUP_RESTRICTED-true}" "${FAKE_GROUP_WORKFLOWS-octo/arena/.github/workflows/bench.yml@refs/heads/main}" ;;
  repos/*) printf '%s\n' "${FAKE_VISIBILITY-private}" ;;
  *) echo "unexpected gh call: $*" >&2; exit 9 ;;
esac
'''


def gh_calls(log: Path) -> list[list[str]]:
    return [c.splitlines() for c in log.joinpath("gh.args").read_text().split("--\n")[:-1]]


def test_jit_configs_are_written_one_per_runner_private_to_the_admin(tmp_path: Path) -> None:
    bin_dir, log, out = tmp_path / "bin", tmp_path / "log", tmp_path / "out"
    log.mkdir()
    fake(bin_dir, "gh", FAKE_GH)
    done = run("jit-config.sh", "--org", "octo", "--for", "octo/arena", "--count", "2", "--out", str(out),
               env={"FAKE_LOG": str(log)}, bin_dir=bin_dir)
    assert done.returncode == 0, done.stderr
    files = sorted(out.glob("*.jit"))
    assert len(files) == 2
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert f.read_text() == f"ENCODED-{f.stem}"
        assert f.stem.startswith("arena-a10g-")
    calls = gh_calls(log)
    # First the group is found by name and checked, then two registrations in it.
    assert [c[1] for c in calls[:3]] == ["orgs/octo/actions/runner-groups?per_page=100",
                                        "orgs/octo/actions/runner-groups/7",
                                        "orgs/octo/actions/runner-groups/7/repositories?per_page=100"]
    assert '.runner_groups[] | select(.name == "arena-gpu") | .id' in calls[0]
    registrations = calls[3:]
    assert len(registrations) == 2
    call = registrations[0]
    assert call[:4] == ["api", "--method", "POST", "orgs/octo/actions/runners/generate-jitconfig"]
    assert {"labels[]=self-hosted", "labels[]=a10g", "runner_group_id=7"} <= set(call)
    assert "workflow octo/arena/.github/workflows/bench.yml@refs/heads/main only" in done.stdout
    assert "registered 2 runner(s)" in done.stdout


@pytest.mark.parametrize(("env", "message"), [
    ({"FAKE_GROUP_RESTRICTED": "false"}, "limit it to the selected workflow octo/arena/.github/workflows/bench.yml@refs/heads/main alone"),
    ({"FAKE_GROUP_WORKFLOWS": "octo/arena/.github/workflows/bench.yml@refs/heads/main "
                              "octo/arena/.github/workflows/ci.yml@refs/heads/main"}, "alone"),
    ({"FAKE_GROUP_WORKFLOWS": "octo/arena/.github/workflows/bench.yml@refs/heads/*"}, "alone"),
    ({"FAKE_GROUP_WORKFLOWS": ""}, "runs any workflow"),
    ({"FAKE_GROUP_VISIBILITY": "all", "FAKE_GROUP_REPOS": ""}, "is open to all repositories (all)"),
    ({"FAKE_GROUP_REPOS": "octo/arena octo/other"}, "limit its repository access to octo/arena alone"),
    ({"FAKE_GROUP_ID": ""}, "octo has no runner group named 'arena-gpu'"),
])
def test_jit_config_refuses_a_runner_group_not_limited_to_bench_yml(tmp_path: Path, env, message) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    log.mkdir()
    fake(bin_dir, "gh", FAKE_GH)
    done = run("jit-config.sh", "--org", "octo", "--for", "octo/arena", "--out", str(tmp_path / "out"),
               env={"FAKE_LOG": str(log), **env}, bin_dir=bin_dir)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert not any("generate-jitconfig" in " ".join(c) for c in gh_calls(log)), "nothing registered"


def test_a_repository_level_runner_is_for_a_private_test_repository_only(tmp_path: Path) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    log.mkdir()
    fake(bin_dir, "gh", FAKE_GH)
    done = run("jit-config.sh", "--repo", "octo/arena", "--out", str(tmp_path / "out"),
               env={"FAKE_LOG": str(log), "FAKE_VISIBILITY": "public"}, bin_dir=bin_dir)
    assert done.returncode == 2
    assert "octo/arena is public: a repository-level runner takes any workflow's jobs" in done.stderr
    assert "--org ORG --for octo/arena" in done.stderr
    assert len(gh_calls(log)) == 1
    done = run("jit-config.sh", "--repo", "octo/arena", "--count", "1", "--out", str(tmp_path / "out"),
               env={"FAKE_LOG": str(log), "FAKE_VISIBILITY": "private"}, bin_dir=bin_dir)
    assert done.returncode == 0, done.stderr
    call = gh_calls(log)[-1]
    assert call[:4] == ["api", "--method", "POST", "repos/octo/arena/actions/runners/generate-jitconfig"]
    assert "runner_group_id=1" in call


def test_jit_configs_can_go_straight_to_the_host_without_touching_the_admins_disk(tmp_path: Path) -> None:
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    log.mkdir()
    fake(bin_dir, "gh", FAKE_GH)
    fake(bin_dir, "ssh", 'printf "%s\\n" "$@" > "$FAKE_LOG/ssh.args"; cat > "$FAKE_LOG/ssh.stdin"\n')
    done = run("jit-config.sh", "--org", "octo", "--for", "octo/arena", "--count", "1", "--ship", "root@gpu-1",
               env={"FAKE_LOG": str(log)}, bin_dir=bin_dir)
    assert done.returncode == 0, done.stderr
    host, command = log.joinpath("ssh.args").read_text().splitlines()
    assert host == "root@gpu-1"
    assert "/var/lib/arena-runner/jit/new/" in command and "umask 077" in command
    assert log.joinpath("ssh.stdin").read_text().startswith("ENCODED-arena-a10g-")
    assert not list(tmp_path.rglob("*.jit"))


@pytest.mark.parametrize(("args", "message"), [
    (["--org", "octo", "--out", "x"], "--org needs --for ORG/REPO"),
    (["--org", "octo", "--for", "evil/arena", "--out", "x"], "is not a repository of octo"),
    (["--out", "x"], "give --org ORG --for ORG/REPO"),
    (["--repo", "octo/arena", "--label", "A10G!", "--out", "x"], "hardware label"),
    (["--repo", "octo/arena"], "give --out DIR or --ship HOST"),
    (["--repo", "octo/arena", "--count", "0", "--out", "x"], "--count"),
])
def test_jit_config_refuses_bad_arguments(tmp_path: Path, args, message) -> None:
    fake(tmp_path / "bin", "gh", "exit 99\n")
    done = run("jit-config.sh", *args, env={}, bin_dir=tmp_path / "bin")
    assert done.returncode == 2 and message in done.stderr


# image/job-started.sh: which job this is, the checks before every job, the sandbox, the cache

REPOSITORY = "octo-org/arena"
BENCH_WORKFLOW_REF = f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/main"
# GitHub's default variables of the one job the runner serves: bench.yml's bench job, on the
# default branch, dispatched (docs: "Variables reference", default environment variables).
BENCH_JOB_VARIABLES = {
    "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REPOSITORY_ID": "4242",
    "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": "refs/heads/main",
    "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch", "GITHUB_WORKFLOW_REF": BENCH_WORKFLOW_REF,
    "GITHUB_WORKFLOW": "bench", "GITHUB_JOB": "bench", "GITHUB_RUN_ID": "987654321",
    "GITHUB_HEAD_REF": "", "GITHUB_BASE_REF": "",
}
SANDBOX_OK = 'echo \'{"ok": true, "reason": "bwrap 0.8.0: user, pid and net namespaces, /dev/nvidia0 bound"}\'\n'


def make_hf_cache(hub: Path, repo: str = "google/gemma-4-E4B-it") -> Path:
    """A Hugging Face cache entry laid out as huggingface_hub writes it."""
    entry = hub / ("models--" + repo.replace("/", "--"))
    (entry / "blobs").mkdir(parents=True)
    (entry / "blobs" / "abc123").write_text("WEIGHTS")
    (entry / "blobs" / "def456").write_text('{"model_type": "gemma4"}')
    snap = entry / "snapshots" / SHA
    snap.mkdir(parents=True)
    (snap / "model.safetensors").symlink_to("../../blobs/abc123")
    (snap / "config.json").symlink_to("../../blobs/def456")
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(SHA)
    return entry


@pytest.fixture
def job(tmp_path: Path) -> dict:
    paths = {name: tmp_path / name for name in ("bin", "private", "models", "cache")}
    paths["private"].mkdir(mode=0o700)
    make_hf_cache(paths["models"] / "hub")
    fake(paths["bin"], "nvidia-smi", 'printf "NVIDIA A10G, 580.65.06\\n"\n')
    # The image's Python, as far as the hook sees it: runner.sandbox's self-check.
    fake(paths["bin"], "python", SANDBOX_OK)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "1 0 8:1 / / rw,relatime - ext4 /dev/root rw\n"
        f"3 1 8:3 /models {paths['models']} ro,relatime - ext4 /dev/sdc ro\n")
    routes = tmp_path / "route"
    routes.write_text("Iface\tDestination\tGateway\tFlags\n"
                      "eth0\t00001EAC\t00000000\t0001\n")
    policy = tmp_path / "job-policy"
    policy.write_text(f"repository={REPOSITORY}\ndefault_branch=main\nrepository_id=4242\n")
    # The release service's socket, as the launcher binds it in (a socket file, nobody listening).
    release = tmp_path / "release.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(release))
    env = {"ARENA_PRIVATE_PROMPTS": str(paths["private"]),
           "ARENA_SHARED_MODEL_CACHE": str(paths["models"]), "ARENA_PRIVATE_RELEASE": str(release),
           "HF_HUB_CACHE": str(paths["cache"]), "HTTPS_PROXY": "http://arena-egress-proxy:3128",
           "ARENA_HOOK_MOUNTINFO": str(mountinfo), "ARENA_HOOK_ROUTES": str(routes),
           "ARENA_HOOK_POLICY": str(policy), "ARENA_HOOK_PYTHON": str(paths["bin"] / "python"),
           **BENCH_JOB_VARIABLES}
    return {"paths": paths, "env": env, "mountinfo": mountinfo, "routes": routes, "policy": policy}


def hook(job: dict, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    full = {**job["env"], **env}
    return run("image/job-started.sh", *(args or ("--test-env",)),
               env={k: v for k, v in full.items() if v is not None}, bin_dir=job["paths"]["bin"])


def test_the_job_hook_passes_a_good_runner_and_seeds_a_cache_huggingface_hub_can_read(job) -> None:
    done = hook(job)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"job bench of {BENCH_WORKFLOW_REF} (workflow_dispatch)" in done.stdout
    assert "GPU: NVIDIA A10G, 580.65.06" in done.stdout
    assert "no default route" in done.stdout
    assert "engine sandbox: bwrap 0.8.0" in done.stdout
    huggingface_hub = pytest.importorskip("huggingface_hub")
    cache = job["paths"]["cache"]
    found = huggingface_hub.try_to_load_from_cache(
        "google/gemma-4-E4B-it", "model.safetensors", cache_dir=cache, revision=SHA)
    assert isinstance(found, str) and Path(found).read_text() == "WEIGHTS"
    # Links into the shared cache, not copies; and the job's own cache takes new downloads.
    linked = cache / "models--google--gemma-4-E4B-it" / "blobs" / "abc123"
    assert linked.is_symlink() and linked.resolve() == (
        job["paths"]["models"] / "hub" / "models--google--gemma-4-E4B-it" / "blobs" / "abc123")
    (cache / "models--google--gemma-4-E4B-it" / "blobs" / "new").write_text("downloaded")
    (cache / "models--someone--other").mkdir()


def test_the_job_hook_without_a_shared_hub_folder_still_starts(job) -> None:
    shutil.rmtree(job["paths"]["models"] / "hub")
    done = hook(job)
    assert done.returncode == 0 and "every model will be downloaded" in done.stdout


# Issue 13: a pull request's own workflow (or any job but bench.yml's bench job on the default
# branch, dispatched) is refused before anything else happens. Each is what GitHub sets for it.
PR_JOB = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/7/merge",
          "GITHUB_REF_NAME": "7/merge", "GITHUB_HEAD_REF": "add-gpu-job", "GITHUB_BASE_REF": "main",
          "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/x.yml@refs/pull/7/merge",
          "GITHUB_WORKFLOW": "x", "GITHUB_JOB": "steal"}
FOREIGN_JOBS = [
    pytest.param(PR_JOB, "started by 'pull_request'", id="a pull request's own workflow"),
    pytest.param({**PR_JOB, "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/bench.yml@refs/pull/7/merge",
                  "GITHUB_JOB": "bench"},
                 "started by 'pull_request'", id="bench.yml as changed by a pull request"),
    pytest.param({"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_HEAD_REF": "x",
                  "GITHUB_BASE_REF": "main"}, "started by 'pull_request_target'",
                 id="pull_request_target"),
    pytest.param({"GITHUB_HEAD_REF": "add-gpu-job", "GITHUB_BASE_REF": "main"},
                 "it belongs to a pull request", id="pull request refs on a dispatch"),
    pytest.param({"GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/x.yml@refs/heads/main",
                  "GITHUB_WORKFLOW": "x"}, "another workflow file", id="another workflow file"),
    pytest.param({"GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/sub/bench.yml@refs/heads/main"},
                 "another workflow file", id="a bench.yml in another folder"),
    pytest.param({"GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/evil",
                  "GITHUB_REF": "refs/heads/evil"}, "not the default branch", id="another branch"),
    pytest.param({"GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/bench.yml@refs/heads/evil"},
                 "another workflow file or ref", id="the workflow of another branch"),
    pytest.param({"GITHUB_REF": "refs/tags/main", "GITHUB_REF_TYPE": "tag",
                  "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/bench.yml@refs/tags/main"},
                 "not the default branch", id="a tag named like the branch"),
    pytest.param({"GITHUB_EVENT_NAME": "push"}, "started by 'push'", id="another event"),
    pytest.param({"GITHUB_EVENT_NAME": "workflow_run"}, "started by 'workflow_run'", id="workflow_run"),
    pytest.param({"GITHUB_JOB": "publish"}, "another job", id="another job of bench.yml"),
    pytest.param({"GITHUB_REPOSITORY": "mallory/arena", "GITHUB_REPOSITORY_ID": "666",
                  "GITHUB_WORKFLOW_REF": "mallory/arena/.github/workflows/bench.yml@refs/heads/main"},
                 "another repository", id="a fork's runs"),
    pytest.param({"GITHUB_REPOSITORY_ID": "666"}, "repository id '666'", id="a recreated repository"),
    pytest.param({"GITHUB_WORKFLOW_REF": "mallory/arena/.github/workflows/bench.yml@refs/heads/main"},
                 "another workflow file", id="a workflow of another repository"),
    pytest.param({"GITHUB_EVENT_NAME": None, "GITHUB_REF": None, "GITHUB_WORKFLOW_REF": None,
                  "GITHUB_JOB": None}, "started by ''", id="no job variables at all"),
]


@pytest.mark.parametrize(("variables", "why"), FOREIGN_JOBS)
def test_the_job_hook_refuses_every_job_but_the_dispatched_bench_job(job, variables, why) -> None:
    # Even a private set wrongly mounted would not be touched: the refusal comes first.
    done = hook(job, **variables)
    assert done.returncode == 1, done.stdout
    [line] = [x for x in done.stdout.splitlines() if x.startswith("::error")]
    assert line.startswith("::error title=arena runner refused this job::this runner serves only "
                           f"job 'bench' of {BENCH_WORKFLOW_REF} started by workflow_dispatch")
    assert why in line, line
    # Nothing else ran: no GPU query, no sandbox, no check output, no cache.
    assert "GPU:" not in done.stdout and "engine sandbox" not in done.stdout
    assert not job["paths"]["cache"].exists()
    assert "refused; this runner runs nothing but bench" in done.stderr


def test_the_job_hook_refuses_before_looking_at_anything_private(job, tmp_path) -> None:
    # A probe left where the checks would look: the refused job must not get that far.
    tripwire = tmp_path / "tripwire"
    fake(job["paths"]["bin"], "nvidia-smi", f'touch {tripwire}; printf "NVIDIA A10G, 580\\n"\n')
    fake(job["paths"]["bin"], "python", f'touch {tripwire}\n' + SANDBOX_OK)
    done = hook(job, **PR_JOB)
    assert done.returncode == 1 and not tripwire.exists()


def test_the_job_hook_escapes_job_text_in_its_annotation(job) -> None:
    evil = f"{REPOSITORY}/.github/workflows/x.yml@refs/heads/main\n::add-mask::%0A"
    done = hook(job, GITHUB_WORKFLOW_REF=evil)
    assert done.returncode == 1
    [line] = [x for x in done.stdout.splitlines() if x.startswith("::")]
    assert "x.yml@refs/heads/main%0A::add-mask::%250A" in line


@pytest.mark.parametrize(("policy", "message"), [
    (None, "no job policy at"),
    ("default_branch=main\n", "names no repository"),
    (f"repository={REPOSITORY}\n", "names no default branch"),
    (f"repository={REPOSITORY}\ndefault_branch=main\nallow_all=1\n", "unknown key: allow_all"),
])
def test_the_job_hook_without_a_sound_policy_refuses_every_job(job, policy, message) -> None:
    if policy is None:
        job["policy"].unlink()
    else:
        job["policy"].write_text(policy)
    done = hook(job)
    assert done.returncode == 1 and message in done.stdout
    assert "GPU:" not in done.stdout


def test_the_job_hook_ignores_test_doubles_unless_run_as_a_test(job) -> None:
    # As the runner runs it (no argument): ARENA_HOOK_* from a job's environment change nothing,
    # so the policy is the launcher's fixed path, which does not exist here.
    done = hook(job, "-")
    assert done.returncode == 1
    assert "no job policy at /etc/arena/job-policy" in done.stdout


def test_the_hook_serves_the_workflow_file_and_job_of_bench_yml(workflows) -> None:
    text = (OPS / "image" / "job-started.sh").read_text()
    assert "bench_workflow=.github/workflows/bench.yml\n" in text and "bench_job=bench\n" in text
    assert "bench" in workflows["bench.yml"]["jobs"]
    assert workflows["bench.yml"]["jobs"]["bench"]["runs-on"][0] == "self-hosted"


def _writable(job: dict, which: str) -> None:
    text = job["mountinfo"].read_text().replace(f"{job['paths'][which]} ro,", f"{job['paths'][which]} rw,")
    job["mountinfo"].write_text(text)


def _private_already_there(job: dict) -> None:
    (job["paths"]["private"] / "private.jsonl").write_text("{}\n")


@pytest.mark.parametrize(("setup", "env", "message"), [
    (_private_already_there, {}, "already holds files before the job was checked"),
    (lambda j: _writable(j, "models"), {}, "shared model cache at"),
    (lambda j: fake(j["paths"]["bin"], "nvidia-smi", 'printf "NVIDIA A10G, 580\\nNVIDIA A10G, 580\\n"\n'),
     {}, "expected exactly one GPU, found 2"),
    (lambda j: fake(j["paths"]["bin"], "nvidia-smi", 'echo "NVIDIA-SMI has failed"; exit 9\n'),
     {}, "no GPU is passed through"),
    (lambda j: None, {"HF_TOKEN": "hf_x"}, "HF_TOKEN is set on the runner"),
    (lambda j: None, {"GH_TOKEN": "ghp_x"}, "GH_TOKEN is set on the runner"),
    (lambda j: None, {"HTTPS_PROXY": None}, "HTTPS_PROXY is not set"),
    (lambda j: None, {"ARENA_PRIVATE_PROMPTS": "/nonexistent/private"}, "no private prompt folder at"),
    (lambda j: None, {"ARENA_PRIVATE_RELEASE": "/nonexistent/release.sock"}, "release socket"),
    # The sandbox: runner.sandbox's verdict, its absence, or no verdict at all.
    (lambda j: fake(j["paths"]["bin"], "python",
                    'echo \'{"ok": false, "reason": "bwrap: Can\'"\'"\'t mount proc on /newroot/proc"}\'; exit 1\n'),
     {}, "an engine sandbox cannot start here (exit 1): bwrap: Can't mount proc on /newroot/proc"),
    (lambda j: fake(j["paths"]["bin"], "python",
                    'echo "/opt/arena/venv/bin/python: No module named runner.sandbox" >&2; exit 1\n'),
     {}, "this image has no engine sandbox"),
    (lambda j: fake(j["paths"]["bin"], "python", 'echo \'{"ok": true}\'; exit 1\n'),
     {}, "an engine sandbox cannot start here (exit 1)"),
    (lambda j: fake(j["paths"]["bin"], "python", 'echo \'{"ok": "yes"}\'\n'),
     {}, "an engine sandbox cannot start here (exit 0)"),
    (lambda j: fake(j["paths"]["bin"], "python", 'echo "Segmentation fault"; exit 139\n'),
     {}, "failed (exit 139) without a verdict: Segmentation fault"),
])
def test_the_job_hook_refuses_a_runner_that_is_not_set_up_as_documented(job, setup, env, message) -> None:
    setup(job)
    done = hook(job, **env)
    assert done.returncode == 1
    assert "::error title=arena runner check::" in done.stdout
    assert message in done.stdout, done.stdout
    assert not job["paths"]["cache"].exists(), "nothing is prepared for a refused job"


def test_the_job_hook_reports_every_problem_at_once(job) -> None:
    _private_already_there(job)
    done = hook(job, HF_TOKEN="hf_x")
    assert done.returncode == 1
    assert done.stdout.count("::error") == 2 and "2 problem(s)" in done.stderr


def _default_route(job: dict) -> None:
    job["routes"].write_text(job["routes"].read_text() + "eth0\t00000000\t0100A8C0\t0003\n")


def test_the_job_hook_refuses_a_runner_that_reaches_an_internal_address(job) -> None:
    _default_route(job)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = hook(job, ARENA_HOOK_PROBE=f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"this job can reach 127.0.0.1:{port}" in done.stdout


def test_the_job_hook_accepts_a_default_route_that_cannot_reach_internal_addresses(job) -> None:
    _default_route(job)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    done = hook(job, ARENA_HOOK_PROBE=f"127.0.0.1:{closed}")
    assert done.returncode == 0, done.stdout
    assert "unreachable" in done.stdout


# check-host.sh

def host_fakes(bin_dir: Path, *, driver: str = "580.65.06", name: str = "NVIDIA A10G",
               internal: str = "true", userns: str = "15000", sandbox: str = "ok") -> None:
    fake(bin_dir, "sysctl", f'[ "$2" = user.max_user_namespaces ] && echo {userns}\n')
    fake(bin_dir, "nvidia-smi", f'''
if [ "$#" -gt 0 ]; then printf "0, {name}, {driver}, 23028 MiB\\n"; exit 0; fi
printf "| NVIDIA-SMI {driver}   Driver Version: {driver}   CUDA Version: 13.0 |\\n"
''')
    fake(bin_dir, "docker", f'''
case "$1 $2" in
  "info --format") echo '{{"nvidia":{{"path":"nvidia-container-runtime"}}}}' ;;
  "version --format") echo 28.1.1 ;;
  "network inspect") echo {internal} ;;
  "info ") ;;
  "run --rm")
    printf '%s\\n' "$@" > "$FAKE_LOG/docker.run.$(date +%s%N)"
    case "$*" in
      *runner.sandbox*) [ {sandbox} = ok ] && echo '{{"ok": true, "reason": "bwrap 0.8.0"}}' ||
                          {{ echo "bwrap: Can't mount proc on /newroot/proc: Operation not permitted"; exit 1; }} ;;
      *) echo "GPU 0: NVIDIA A10G (UUID: GPU-1)" ;;
    esac ;;
esac
''')


def host_env(tmp_path: Path, private: Path, models: Path, **extra: str | None) -> dict[str, str]:
    release, log = tmp_path / "release", tmp_path / "log"
    release.mkdir(exist_ok=True)
    log.mkdir(exist_ok=True)
    if not (release / "private.sock").exists():
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(release / "private.sock"))
    profiles = tmp_path / "apparmor-profiles"
    profiles.write_text("docker-default (enforce)\narena-job (enforce)\n")
    env = {"ARENA_PRIVATE_DIR": str(private), "ARENA_MODEL_CACHE_DIR": str(models),
           "ARENA_REPOSITORY": "octo-org/arena", "ARENA_RELEASE_DIR": str(release),
           "ARENA_CHECK_APPARMOR_PROFILES": str(profiles), "FAKE_LOG": str(log), **extra}
    return {k: v for k, v in env.items() if v is not None}


def test_check_host_passes_a_prepared_a10g_host(tmp_path: Path) -> None:
    private, models = tmp_path / "private", tmp_path / "models"
    private.mkdir(mode=0o750)
    models.mkdir()
    if os.getuid() == 0:
        os.chown(private, 0, 1001)
    host_fakes(tmp_path / "bin")
    done = run("check-host.sh", env=host_env(tmp_path, private, models), bin_dir=tmp_path / "bin")
    lines = done.stdout.splitlines()
    assert "ok    GPU 0: NVIDIA A10G, driver 580.65.06, 23028 MiB" in lines
    assert "ok    the driver supports CUDA 13.0" in lines
    assert "ok    job network arena-jobs has no route out" in lines
    assert "ok    user namespaces enabled (user.max_user_namespaces=15000)" in lines
    assert "ok    AppArmor profile arena-job loaded" in lines
    assert f"ok    private prompt release service listening on {tmp_path}/release/private.sock" in lines
    fails = [line for line in lines if line.startswith("FAIL")]
    if os.getuid() != 0:  # only root can hand the folder to uid 1001 here
        fails = [f for f in fails if "uid 1001" not in f]
    # The model cache check depends on this disk's free space; everything else must pass.
    assert [f for f in fails if "GiB free" not in f] == []


@pytest.mark.parametrize(("fakes", "message"), [
    ({"driver": "550.54.15"}, "driver 550.54.15 is older than 580"),
    ({"name": "NVIDIA L4"}, "GPU 0 is NVIDIA L4, not A10G"),
    ({"internal": "false"}, "job network arena-jobs is missing or not internal"),
    ({"userns": "0"}, "user namespaces are off"),
])
def test_check_host_names_what_is_wrong_and_the_fix(tmp_path: Path, fakes, message) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o750)
    host_fakes(tmp_path / "bin", **fakes)
    done = run("check-host.sh", env=host_env(tmp_path, private, tmp_path), bin_dir=tmp_path / "bin")
    assert done.returncode == 1
    assert any(line.startswith("FAIL") and message in line and "fix:" in line
               for line in done.stdout.splitlines()), done.stdout


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: (t / "apparmor-profiles").write_text("docker-default (enforce)\n"),
     "AppArmor profile arena-job is not loaded"),
    (lambda t: (t / "release" / "private.sock").unlink(), "no private prompt release service at"),
])
def test_check_host_flags_a_missing_piece_of_the_runners_door(tmp_path: Path, change, message) -> None:
    host_fakes(tmp_path / "bin")
    env = host_env(tmp_path, tmp_path, tmp_path)
    change(tmp_path)
    done = run("check-host.sh", env=env, bin_dir=tmp_path / "bin")
    assert done.returncode == 1
    assert any(line.startswith("FAIL") and message in line and "fix:" in line
               for line in done.stdout.splitlines()), done.stdout


def test_check_host_flags_a_runner_that_serves_no_named_repository(tmp_path: Path) -> None:
    host_fakes(tmp_path / "bin")
    done = run("check-host.sh", env=host_env(tmp_path, tmp_path, tmp_path, ARENA_REPOSITORY=None),
               bin_dir=tmp_path / "bin")
    assert done.returncode == 1 and "FAIL  ARENA_REPOSITORY is '', not OWNER/REPO" in done.stdout


@pytest.mark.parametrize(("sandbox", "line"), [
    ("ok", 'ok    engine sandbox in a job container: {"ok": true, "reason": "bwrap 0.8.0"}'),
    ("fails", "FAIL  the engine sandbox cannot start in a job container: bwrap: Can't mount proc"),
])
def test_check_host_starts_the_engine_sandbox_in_a_job_container(tmp_path: Path, sandbox, line) -> None:
    host_fakes(tmp_path / "bin", sandbox=sandbox)
    done = run("check-host.sh", "--image", "arena-runner:test", env=host_env(tmp_path, tmp_path, tmp_path),
               bin_dir=tmp_path / "bin")
    assert any(x.startswith(line) for x in done.stdout.splitlines()), done.stdout
    [sandbox_run] = [p.read_text().splitlines() for p in (tmp_path / "log").glob("docker.run.*")
                     if "runner.sandbox" in p.read_text()]
    # The same security options as launch.sh gives a job container.
    command = " ".join(sandbox_run)
    assert f"--security-opt seccomp={OPS}/seccomp/arena-job.json" in command
    assert "--security-opt apparmor=arena-job --security-opt systempaths=unconfined" in command
    assert "--cap-drop ALL" in command and "--security-opt no-new-privileges:true" in command


def test_check_host_flags_a_private_folder_others_can_read(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o755)
    host_fakes(tmp_path / "bin")
    done = run("check-host.sh", env=host_env(tmp_path, private, tmp_path), bin_dir=tmp_path / "bin")
    assert done.returncode == 1
    assert f"FAIL  {private} is mode 755: other users can read it." in done.stdout


# prefetch-models.sh

def test_prefetch_downloads_by_revision_with_the_token_passed_by_name_only(host) -> None:
    # The fake download creates the snapshot where the real one would.
    fake(host["bin"], "docker", r'''
printf '%s\n' "$@" > "$FAKE_LOG/docker.$(date +%s%N).args"
printf '%s' "${HF_TOKEN-<unset>}" > "$FAKE_LOG/token"
for a in "$@"; do case $a in type=bind,source=*,target=/srv/arena/models) src=${a#type=bind,source=}; src=${src%%,*} ;; esac; done
mkdir -p "$src/hub/models--google--gemma-4-E4B-it/snapshots/''' + SHA + r'''"
''')
    env = launcher_env(host, HF_TOKEN="hf_secret_value")
    done = run("prefetch-models.sh", f"google/gemma-4-E4B-it@{SHA}", env=env, bin_dir=host["bin"])
    assert done.returncode == 0, done.stderr
    [args_file] = sorted(host["log"].glob("docker.*.args"))
    args = args_file.read_text().splitlines()
    assert "hf_secret_value" not in args and "--env" in args and "HF_TOKEN" in args
    assert (host["log"] / "token").read_text() == "hf_secret_value"
    assert args[-7:] == ["hf", "download", "google/gemma-4-E4B-it", "--revision", SHA,
                         "--cache-dir", "/srv/arena/models/hub"]
    assert f"type=bind,source={host['models']},target=/srv/arena/models" in args
    assert "ok: " in done.stdout


@pytest.mark.parametrize(("spec", "message"), [
    ("google/gemma-4-E4B-it@main", "full 40-digit commit SHA"),
    ("google/gemma-4-E4B-it", "MODEL@REVISION"),
    (f"not a model@{SHA}", "not a Hub model id"),
])
def test_prefetch_refuses_anything_but_a_model_pinned_by_revision(host, spec, message) -> None:
    done = run("prefetch-models.sh", spec, env=launcher_env(host), bin_dir=host["bin"])
    assert done.returncode == 2 and message in done.stderr
    assert docker_calls(host["log"]) == []


def test_prefetch_fails_when_the_snapshot_did_not_arrive(host) -> None:
    done = run("prefetch-models.sh", f"google/gemma-4-E4B-it@{SHA}", env=launcher_env(host),
               bin_dir=host["bin"])
    assert done.returncode == 2 and "no snapshot at" in done.stderr


# egress/squid.conf: the allowlist, enforced by a real Squid

def _squid() -> str:
    found = shutil.which("squid") or ("/usr/sbin/squid" if Path("/usr/sbin/squid").exists() else None)
    if found:
        return found
    message = "Squid is not installed (Debian/Ubuntu package squid; scripts/setup-test-tools.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# Names the proxy resolves from a hosts file (no DNS needed): 192.0.2.0/24 is TEST-NET-1, a
# public-looking address that no packet reaches; 10.1.2.3 is an internal one.
TEST_HOSTS = {
    "192.0.2.10": ["github.com", "api.github.com", "codeload.github.com",
                   "results-receiver.actions.githubusercontent.com",
                   "productionresultssa12.blob.core.windows.net",
                   "huggingface.co", "cdn-lfs.hf.co", "cas-bridge.xethub.hf.co"],
    "192.0.2.20": ["example.com", "github.com.example.net", "notgithub.com",
                   "attacker.blob.core.windows.net", "huggingface.co.example.org"],
    "10.1.2.3": ["rebound.huggingface.co"],
}
ALLOWED = ["github.com:443", "api.github.com:443", "codeload.github.com:443",
           "results-receiver.actions.githubusercontent.com:443",
           "productionresultssa12.blob.core.windows.net:443", "huggingface.co:443",
           "cdn-lfs.hf.co:443", "cas-bridge.xethub.hf.co:443"]
DENIED = ["example.com:443", "github.com.example.net:443", "notgithub.com:443",
          "attacker.blob.core.windows.net:443", "huggingface.co.example.org:443",
          "rebound.huggingface.co:443",  # an allowed name that resolves to an internal address
          "10.0.0.5:443", "169.254.169.254:443", "127.0.0.1:443", "huggingface.co:22"]


@pytest.fixture(scope="module")
def egress_proxy() -> Iterator[int]:
    squid = _squid()
    # Squid started as root switches to its own user, which must still reach its logs: pytest's
    # temporary folders are private to the user running the tests, so use one of our own.
    work = Path(tempfile.mkdtemp(prefix="arena-squid-"))
    work.chmod(0o777)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = (OPS / "egress" / "squid.conf").read_text()
    replacements = {
        "http_port 3128": f"http_port 127.0.0.1:{port}",
        "acl job_clients src 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16": "acl job_clients src 127.0.0.1/32",
        "access_log stdio:/var/log/squid/access.log": f"access_log stdio:{work}/access.log",
        "cache_log stdio:/var/log/squid/cache.log": f"cache_log stdio:{work}/cache.log",
        "shutdown_lifetime 5 seconds": "shutdown_lifetime 0 seconds",
    }
    for old, new in replacements.items():
        assert old in text, f"squid.conf no longer has {old!r}; update this test"
        text = text.replace(old, new)
    (work / "hosts").write_text("".join(f"{ip} {' '.join(names)}\n" for ip, names in TEST_HOSTS.items()))
    text += (f"hosts_file {work}/hosts\ndns_nameservers 127.0.0.1\nconnect_timeout 1 second\n"
             f"forward_max_tries 1\nvisible_hostname arena-egress-test\ncoredump_dir {work}\n"
             "pinger_enable off\n")
    (work / "squid.conf").write_text(text)
    stderr = (work / "stderr").open("w")
    proc = subprocess.Popen([squid, "-N", "-f", str(work / "squid.conf")],
                            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                logs = [(work / n).read_text() for n in ("stderr", "cache.log") if (work / n).exists()]
                pytest.fail("Squid refused the configuration:\n" + "\n".join(logs)[-3000:])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("Squid did not start listening within 15 s")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
        shutil.rmtree(work, ignore_errors=True)


def through_proxy(port: int, request: str) -> tuple[str, str]:
    """Sends one request to the proxy; returns its status line and Squid's error code."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
    errors = [line.split(":", 1)[1].split()[0] for line in lines if line.lower().startswith("x-squid-error:")]
    return lines[0], errors[0] if errors else ""


def connect(port: int, target: str) -> tuple[str, str]:
    return through_proxy(port, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")


def test_the_egress_proxy_lets_jobs_reach_github_and_the_hub(egress_proxy) -> None:
    # In parallel: each allowed target costs a connect timeout (192.0.2.10 answers nobody).
    with ThreadPoolExecutor(len(ALLOWED)) as pool:
        answers = dict(zip(ALLOWED, pool.map(lambda t: connect(egress_proxy, t), ALLOWED)))
    # The proxy tried to connect, so the allowlist let each one through.
    refused = {t: a for t, a in answers.items()
               if a[1] not in ("ERR_CONNECT_FAIL", "ERR_CANNOT_FORWARD") or " 403 " in a[0]}
    assert refused == {}


@pytest.mark.parametrize("target", DENIED)
def test_the_egress_proxy_refuses_everything_else(egress_proxy, target) -> None:
    status, error = connect(egress_proxy, target)
    assert (status.split()[1], error) == ("403", "ERR_ACCESS_DENIED")


def test_the_egress_proxy_refuses_plain_http_even_to_github(egress_proxy) -> None:
    status, error = through_proxy(egress_proxy, "GET http://github.com/ HTTP/1.1\r\nHost: github.com\r\n\r\n")
    assert (status.split()[1], error) == ("403", "ERR_ACCESS_DENIED")


# arc/: the Kubernetes scale-out

def _arc(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((OPS / "arc" / name).read_text()) if d]


def test_the_scale_set_serves_the_bench_label_with_one_whole_gpu_per_runner(workflows) -> None:
    [values] = _arc("values-a10g.yaml")
    hardware = load_challenge(REPO / "challenge.yaml").hardware
    # The bench job asks for the dispatched track's label, the approve job's output (tracks).
    assert values["scaleSetLabels"] == ["self-hosted", hardware]
    assert workflows["bench.yml"]["jobs"]["bench"]["runs-on"] == [
        "self-hosted", "${{ needs.approve.outputs.label }}"]
    spec = values["template"]["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A10G"}
    [runner] = spec["containers"]
    assert runner["name"] == "runner"
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == runner["resources"]["requests"]["nvidia.com/gpu"] == 1


def test_the_scale_set_mounts_its_inputs_read_only_and_holds_no_credentials() -> None:
    [values] = _arc("values-a10g.yaml")
    spec = values["template"]["spec"]
    [runner] = spec["containers"]
    mounts = {m["mountPath"]: m for m in runner["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for path in ("/srv/arena/models", "/run/arena-release", "/etc/arena"):
        assert mounts[path].get("readOnly") is True, path
    assert volumes[mounts["/srv/arena/models"]["name"]]["persistentVolumeClaim"]["readOnly"] is True
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 1001
    assert runner["securityContext"]["allowPrivilegeEscalation"] is False
    assert runner["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in runner["securityContext"]
    for env in runner["env"]:
        assert "valueFrom" not in env and not re.search(r"TOKEN|SECRET|KEY|PASSWORD", env["name"]), env
    assert {e["name"]: e["value"] for e in runner["env"]}["HTTPS_PROXY"].startswith(
        "http://arena-egress-proxy.arena-runners.svc")


def test_the_runner_pod_never_mounts_the_private_set_only_its_release_sidecar_does() -> None:
    # Issue 13: a job that gets a runner pod finds an empty private folder; the set comes from
    # the sidecar, against the bench job's OIDC token.
    [values] = _arc("values-a10g.yaml")
    spec = values["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    secret_volumes = {name for name, v in volumes.items() if "secret" in v}
    [runner] = spec["containers"]
    assert not {m["name"] for m in runner["volumeMounts"]} & secret_volumes
    private = {m["mountPath"]: m for m in runner["volumeMounts"]}["/srv/arena/private"]
    assert "emptyDir" in volumes[private["name"]]
    [sidecar] = spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["command"][:3] == ["python3", "/opt/arena/private-release.py", "serve"]
    assert {m["name"] for m in sidecar["volumeMounts"]} & secret_volumes == {"private-prompts"}
    assert sidecar["securityContext"]["runAsUser"] != spec["securityContext"]["runAsUser"]
    assert values["runnerGroup"] == "arena-gpu"


def test_the_scale_set_gives_the_engine_sandbox_its_profiles() -> None:
    [values] = _arc("values-a10g.yaml")
    spec = values["template"]["spec"]
    [runner] = spec["containers"]
    context = runner["securityContext"]
    assert context["seccompProfile"] == {"type": "Localhost", "localhostProfile": "arena-job.json"}
    assert context["appArmorProfile"] == {"type": "Localhost", "localhostProfile": "arena-job"}
    assert context["procMount"] == "Unmasked" and spec["hostUsers"] is False


def test_runner_pods_may_reach_cluster_dns_and_the_proxy_and_nothing_else() -> None:
    [values] = _arc("values-a10g.yaml")
    policies = {d["metadata"]["name"]: d for d in _arc("egress.yaml") if d["kind"] == "NetworkPolicy"}
    runners = policies["arena-runner-egress"]["spec"]
    assert runners["podSelector"]["matchLabels"].items() <= values["template"]["metadata"]["labels"].items()
    assert set(runners["policyTypes"]) == {"Ingress", "Egress"} and runners["ingress"] == []
    destinations = []
    for rule in runners["egress"]:
        for peer in rule["to"]:
            assert "ipBlock" not in peer, "runner pods get no direct route to any address"
            destinations.append((peer.get("podSelector", {}).get("matchLabels"),
                                 sorted(p["port"] for p in rule["ports"])))
    assert destinations == [({"k8s-app": "kube-dns"}, [53, 53]), ({"arena/role": "egress-proxy"}, [3128])]
    proxy = policies["arena-egress-proxy"]["spec"]
    [outside] = [r for r in proxy["egress"] if "ipBlock" in r["to"][0]]
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(outside["to"][0]["ipBlock"]["except"])
    assert [p["port"] for p in outside["ports"]] == [443]


def test_jit_registrations_default_to_the_challenge_hardware_label() -> None:
    hardware = load_challenge(REPO / "challenge.yaml").hardware
    assert f'label="{hardware}"' in (OPS / "jit-config.sh").read_text()
