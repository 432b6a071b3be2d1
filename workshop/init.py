"""`arena init DIR`: a new challenge repository from nothing.

It writes, into an empty (or new) folder: challenge.yaml (from flags, or from questions when a
flag is missing and stdin is a terminal), the public prompt set, a baseline submission and the
published schema, the workflows, the labels file, the participants' guide (CONTRIBUTING.md),
the agents' page (AGENTS.md), a README with the two Quickstart commands, a Makefile and
.ci/run, the challenge's own tests, and a copy of arena itself (arena/, bot/, runner/,
leaderboard/, runner-ops/, scripts/, demo/, docs/runner.md, pyproject.toml), because every
workflow installs the checkout it runs on (`pip install -e .`). Then it checks its work: the
challenge loads, every submission validates, the schema is current, the workflows keep their
invariants.

The generated repository's `make test` runs its own `tests/` (no vLLM): the challenge file and
prompt set load, `arena validate` accepts every submission, `arena schema --check` passes, the
labels file names the bot's labels, the bench workflow asks for the challenge's hardware, the
demo challenge (`make demo`'s) and its samples validate, and the workflows keep the security
invariants (tests/invariants.py, the same checks as arena's).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from arena import exitcodes
from arena.text import for_terminal

REPO_ROOT = Path(__file__).resolve().parent.parent
# What the new repository takes from this one, as is (path here -> path there).
COPIED = (
    ("arena", "arena"), ("bot", "bot"), ("runner", "runner"), ("leaderboard", "leaderboard"),
    ("workshop", "workshop"),
    ("runner-ops", "runner-ops"), ("scripts", "scripts"), ("demo", "demo"),
    ("docs/runner.md", "docs/runner.md"), (".github/workflows", ".github/workflows"),
    (".github/dependabot.yml", ".github/dependabot.yml"), ("pyproject.toml", "pyproject.toml"),
    (".gitignore", ".gitignore"), ("package.json", "package.json"),
    ("package-lock.json", "package-lock.json"),
    ("tests/workflows/invariants.py", "tests/invariants.py"),
    ("AGENTS.md", "AGENTS.md"), ("CONTRIBUTING.md", "CONTRIBUTING.md"),
)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")

ID_RE = r"[a-z0-9][a-z0-9-]{0,62}"
HUB_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
SHA_RE = r"[0-9a-f]{40}"
HARDWARE_RE = r"[a-z0-9][a-z0-9-]{0,31}"
LOGIN_RE = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"


class InitError(Exception):
    """What is wrong with the request, for people; the command exits 2."""


@dataclass
class Field:
    name: str  # the flag, without --
    question: str
    pattern: str | None = None
    hint: str = ""
    default: str | None = None
    required: bool = True


FIELDS = (
    Field("base-model", "Base model (a Hugging Face Hub id, owner/name)", HUB_RE,
          "owner/name, e.g. google/gemma-4-E4B-it"),
    Field("revision", "Its revision (the full 40-character commit SHA on the Hub)", SHA_RE,
          "the full commit SHA, 40 lower-case hex digits (the Hub's 'Files' tab, History)"),
    Field("hardware", "Hardware label of the GPU runners (the runs-on label)", HARDWARE_RE,
          "a short lower-case label such as a10g or l4"),
    Field("public-prompts", "Public prompt set (a JSON Lines file, see prompts/README.md)",
          None, "a path to a .jsonl file with id, category, messages and reference per row"),
    Field("maintainer", "Maintainers (GitHub logins or a team, comma-separated)", None,
          "GitHub logins, comma-separated"),
    Field("ppl-reference", "Reference perplexity of the base model (arena references prints it)",
          r"[0-9]+(\.[0-9]+)?", "a positive number, e.g. 2.30"),
    Field("id", "Challenge id", ID_RE, "lower-case letters, digits and hyphens", required=False),
    Field("title", "Title", r"[^\x00-\x1f\x7f<>`]{1,120}",
          "one line of up to 120 characters, no < > or backticks", required=False),
    Field("ppl-max-increase", "Largest perplexity increase allowed (a fraction)",
          r"[0-9]+(\.[0-9]+)?", "e.g. 0.05 for 5%", "0.05", required=False),
    Field("output-tokens", "Output tokens per timed request", r"[1-9][0-9]{0,4}",
          "a whole number, e.g. 512", "512", required=False),
    Field("runs-per-day", "Benchmark runs per author per day", r"[0-9]{1,4}",
          "a whole number, e.g. 5", "5", required=False),
    Field("vllm-version", "vLLM version participants serve with", r"[0-9]+\.[0-9]+\.[0-9]+",
          "e.g. 0.32.0", None, required=False),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init", help="organizers: a new challenge repository from nothing",
        description="Write a new challenge repository into DIR (empty or new): challenge.yaml, "
                    "prompts, a baseline submission, workflows, labels, guides, Makefile and "
                    "its own tests. Missing flags are asked for when stdin is a terminal; "
                    "otherwise they are required. Exit 0 written and checked, 2 bad request.")
    p.add_argument("dir", type=Path, metavar="DIR")
    for f in FIELDS:
        p.add_argument(f"--{f.name}", default=None, help=f"{f.question} ({f.hint})")
    p.add_argument("--summary", default=None, help="one paragraph (default: from the above)")
    p.add_argument("--no-input", action="store_true",
                   help="never ask: fail on a missing flag even at a terminal")
    p.set_defaults(func=cmd_init)


def _ask(f: Field, ask: Callable[[str], str]) -> str:
    default = f" [{f.default}]" if f.default else ""
    for _ in range(5):
        answer = ask(f"{f.question}{default}: ").strip()
        if not answer and f.default is not None:
            return f.default
        problem = _check(f, answer)
        if not problem:
            return answer
        print(f"  {problem}", file=sys.stderr)
    raise InitError(f"--{f.name}: no valid answer after 5 tries")


def _check(f: Field, value: str) -> str | None:
    if not value:
        return f"--{f.name} is required: {f.hint}"
    if f.pattern and not re.fullmatch(f.pattern, value):
        return f"--{f.name} {for_terminal(value, 80)!s} is not valid: use {f.hint}"
    return None


def gather(args: argparse.Namespace, *, interactive: bool,
           ask: Callable[[str], str] = input,
           defaults: dict[str, str] | None = None) -> dict[str, str]:
    """Every field's value, from the flags or (interactive) from questions. Raises InitError
    naming every missing or malformed flag at once when it cannot ask. `defaults` fills in
    optional fields' defaults known only at run time (the id from the folder's name)."""
    values: dict[str, str] = {}
    problems = []
    for f in FIELDS:
        if defaults and f.name in defaults:
            f = dataclasses.replace(f, default=defaults[f.name])
        raw = getattr(args, f.name.replace("-", "_"))
        if raw is None and not f.required:
            if interactive and f.default is not None:
                values[f.name] = _ask(f, ask)
            elif f.default is not None:
                values[f.name] = f.default
            continue
        if raw is None:
            if interactive:
                values[f.name] = _ask(f, ask)
                continue
            problems.append(f"--{f.name} is required: {f.hint}")
            continue
        problem = _check(f, str(raw))
        if problem:
            problems.append(problem)
        else:
            values[f.name] = str(raw)
    if problems:
        raise InitError("\n".join(problems) + (
            "" if interactive else "\n(stdin is not a terminal, so nothing was asked: pass "
                                   "every required flag)"))
    maints = [m.strip() for m in values["maintainer"].split(",") if m.strip()]
    bad = [m for m in maints if not re.fullmatch(LOGIN_RE, m)]
    if not maints or bad:
        raise InitError(f"--maintainer: {', '.join(for_terminal(b, 40) for b in bad) or 'none'} "
                        "is not a GitHub login; give logins or a team slug, comma-separated")
    values["maintainer"] = ",".join(maints)
    if float(values["ppl-reference"]) <= 0:
        raise InitError("--ppl-reference must be positive")
    return values


# -- writing ----------------------------------------------------------------------------------

def _sub_once(text: str, pattern: str, repl: str, what: str) -> str:
    new, n = re.subn(pattern, lambda _m: repl, text, count=1, flags=re.M)
    if n != 1:
        raise InitError(f"this arena's challenge.yaml no longer has {what}; arena init needs "
                        "updating")
    return new


def challenge_text(v: dict[str, str], template: str) -> str:
    """This repository's challenge.yaml with the new challenge's values: every other section
    (integrity, ranking noise, engine arguments, tags) is kept as the starting point."""
    hw = v["hardware"]
    title = v.get("title") or v["id"].replace("-", " ").title()
    summary = v.get("summary") or (
        f"Make {v['base-model']} decode as fast as possible on one {hw.upper()} GPU without "
        "degrading it. Score: decode tokens/s at batch 1 on private prompts. Guardrails: "
        f"perplexity within {float(v['ppl-max-increase']) * 100:g}% of the reference, greedy "
        "output identical to plain greedy decoding of the same checkpoint.")
    t = template
    t = _sub_once(t, r"^id: .*$", f"id: {v['id']}", "an id line")
    t = _sub_once(t, r"^title: .*$", f"title: {json.dumps(title)}", "a title line")
    t = _sub_once(t, r"^summary: >-\n(?:  .*\n)+", "summary: " + json.dumps(summary) + "\n",
                  "a summary block")
    t = _sub_once(t, r"^(base_model:\n  id: ).*$", f"base_model:\n  id: {v['base-model']}",
                  "base_model.id")
    t = _sub_once(t, r"^(  revision: )[0-9a-f]{40}$", f"  revision: {v['revision']}",
                  "base_model.revision")
    t = _sub_once(t, r"^hardware: .*$", f"hardware: {hw}", "a hardware line")
    t = _sub_once(t, r"^  output_tokens: .*$", f"  output_tokens: {int(v['output-tokens'])}",
                  "measurement.output_tokens")
    t = _sub_once(t, r"^  reference: [0-9.]+$", f"  reference: {float(v['ppl-reference'])}",
                  "ppl.reference")
    t = _sub_once(t, r"^  max_increase: .*$", f"  max_increase: {float(v['ppl-max-increase'])}",
                  "ppl.max_increase")
    t = _sub_once(t, r"^  runs_per_author_per_day: .*$",
                  f"  runs_per_author_per_day: {int(v['runs-per-day'])}",
                  "quotas.runs_per_author_per_day")
    t = _sub_once(t, r'^    min_version: ".*"$', f'    min_version: "{v["vllm-version"]}"',
                  "engines.vllm.min_version")
    t = _sub_once(t, r"^maintainers:\n(?:  - .*\n)+",
                  "maintainers:\n" + "".join(f"  - {m}\n" for m in v["maintainer"].split(",")),
                  "a maintainers list")
    # The ranking noise of the template was measured on Fast Gemma's A10G: say so.
    t = _sub_once(t, r"^    source: >-\n      Identical re-runs.*\n(?:      .*\n)*",
                  "    source: >-\n      PROVISIONAL: copied from the Fast Gemma challenge "
                  "(gemma-4-E4B-it on one A10G).\n      Measure identical re-runs of the "
                  "baseline on your runner and replace sigma_tps.\n",
                  "ranking.noise.source")
    if not re.search(r"^controls:", t, flags=re.M):
        t += ("\ncontrols:\n  # The reference submission the control workflow re-measures "
              "every day on each track\n  # (docs/runner.md, \"Control runs\").\n"
              "  submission: submissions/"
              f"{v['maintainer'].split(',')[0]}/baseline.yaml\n  tolerance: 0.03\n")
    else:
        t = _sub_once(t, r"^  submission: submissions/.*$",
                      f"  submission: submissions/{v['maintainer'].split(',')[0]}/baseline.yaml",
                      "controls.submission")
    return t


def baseline_text(v: dict[str, str]) -> str:
    return (
        "# yaml-language-server: $schema=../schema.json\n"
        "name: baseline\n"
        "description: >-\n"
        f"  The reference point: {v['base-model']} in bf16, served by vLLM with its defaults "
        "and\n  nothing else changed. Every other submission is compared with this one.\n"
        "tags: [baseline]\n"
        "model:\n"
        f"  id: {v['base-model']}\n"
        f"  revision: {v['revision']}\n"
        "engine:\n"
        "  name: vllm\n"
        f"  version: \"{v['vllm-version']}\"\n"
        "  args:\n"
        "    dtype: bfloat16\n"
        "    max_model_len: 4096\n")


MAKEFILE = """\
# The two commands of the Quickstart. Each installs what it needs first (once).
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python

.PHONY: demo test setup clean

# The whole pipeline on a tiny local model, on real vLLM (CPU build): validate, bench, site.
demo: setup
\t$(VENV)/bin/arena demo

# This challenge's own checks (no vLLM, seconds): challenge, prompts, submissions, schema,
# labels, workflow invariants.
test:
\tscripts/setup-checks.sh "$(PYTHON)"
\t$(PYTHON) -m pytest -q tests

setup:
\tscripts/setup.sh

clean:
\trm -rf .arena
"""

SETUP_CHECKS = """\
#!/usr/bin/env bash
# Installs what `make test` needs (arena without vLLM, and pytest) into .venv, unless the
# Python named as $1 already has it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
need='import yaml, jinja2, requests, github, jsonschema, fastjsonschema, packaging, httpx, cryptography, pytest'
if [ -x "$py" ] && "$py" -c "$need" 2>/dev/null; then exit 0; fi
if [ "$py" != .venv/bin/python ]; then
  echo "$py lacks arena's dependencies or pytest; run: $py -m pip install -e . pytest" >&2
  exit 2
fi
base=${PYTHON_FOR_VENV:-python3}
"$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "arena needs Python 3.11 or newer; set PYTHON_FOR_VENV=/path/to/python3.11" >&2; exit 2; }
[ -x .venv/bin/python ] || "$base" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e . pytest
"""

CI_RUN = """\
#!/usr/bin/env bash
# CI: install from nothing and run the README's test command. Any failing test, and pytest's
# "no tests ran" (exit 5), fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
make test
"""

TESTS = '''\
"""This challenge's own checks: what `make test` runs (no vLLM, no GPU, seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from invariants import check_directory

ROOT = Path(__file__).resolve().parents[1]


def arena(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_challenge_file_loads():
    from arena.challenge import load_challenge

    ch = load_challenge(ROOT / "challenge.yaml")
    assert ch.maintainers


def test_the_public_prompt_set_loads():
    from arena.challenge import load_challenge
    from runner.prompts import load_prompt_file

    ch = load_challenge(ROOT / "challenge.yaml")
    assert len(load_prompt_file(ch.public_prompts)) > 0


def test_every_submission_validates():
    out = arena("validate", "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    assert doc["files"], "no submission files: keep the baseline"


def test_the_published_schema_is_current():
    out = arena("schema", "--check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_labels_file_names_the_bots_labels():
    from bot.doctor import LABEL_SPECS

    labels = json.loads((ROOT / ".github" / "labels.json").read_text(encoding="utf-8"))
    assert [(x["name"], x["color"], x["description"]) for x in labels] == list(LABEL_SPECS)


def test_the_bench_workflow_asks_for_the_challenge_hardware():
    from arena.challenge import load_challenge

    ch = load_challenge(ROOT / "challenge.yaml")
    bench = yaml.safe_load((ROOT / ".github" / "workflows" / "bench.yml").read_text())
    assert bench["jobs"]["bench"]["runs-on"] == ["self-hosted", ch.hardware]


def test_the_demo_challenge_and_its_samples_validate():
    out = arena("validate", "--json", "--challenge", "demo/challenge.yaml", "demo/submissions")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_workflows_keep_their_security_invariants():
    violations = check_directory(ROOT / ".github" / "workflows")
    assert not violations, "\\n".join(map(str, violations))
'''


def readme_text(v: dict[str, str], title: str) -> str:
    return f"""# {title}

A speed challenge for LLM serving, run by [arena](https://github.com): make
`{v['base-model']}` decode as fast as possible on one `{v['hardware']}` GPU without degrading it.
The rules live in [challenge.yaml](challenge.yaml); participants read
[CONTRIBUTING.md](CONTRIBUTING.md) (and agents [AGENTS.md](AGENTS.md)).

## Quickstart

```sh
make demo    # the whole pipeline on a tiny local model (vLLM CPU build): validate, bench, site
make test    # this challenge's own checks (no vLLM, seconds)
```

`make test` runs `tests/`: the challenge file and the public prompt set load, every submission
validates (`arena validate`), `submissions/schema.json` is current (`arena schema --check`),
`.github/labels.json` names the bot's labels, the bench workflow asks for the `{v['hardware']}`
runners, the demo challenge validates, and the workflows keep their security invariants. It installs arena (without vLLM) and
pytest into `.venv` first; `make test PYTHON=/path/to/python` uses another environment.

## Organizers: from here to the first run

1. Push this folder to a new **public repository in an organisation** (`git init`, commit,
   `gh repo create ORG/NAME --public --source . --push`).
2. Create the labels: `jq -r '.[] | [.name, .color, .description] | @tsv' .github/labels.json |
   while IFS=$'\\t' read -r n c d; do gh label create "$n" --color "$c" --description "$d"; done`
3. Follow [docs/runner.md](docs/runner.md) for the repository's settings and the GPU runner.
4. `arena doctor --repo ORG/NAME` checks every setting the design relies on and says how to fix
   what is wrong (exit 0 when all hold).
5. Calibrate: measure the baseline a few times (`arena bench`), then `arena calibrate` and
   replace the provisional `integrity.noise` and `ranking.noise` in challenge.yaml.
"""


def labels_json() -> str:
    from bot.doctor import LABEL_SPECS

    return json.dumps([{"name": n, "color": c, "description": d} for n, c, d in LABEL_SPECS],
                      indent=2) + "\n"


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=IGNORED)
    else:
        shutil.copy2(src, dst)


def _retarget_workflows(target: Path, hardware: str) -> None:
    """The bench workflow asks for the new challenge's hardware label."""
    bench = target / ".github" / "workflows" / "bench.yml"
    text = bench.read_text(encoding="utf-8")
    text = text.replace("runs-on: [self-hosted, a10g]", f"runs-on: [self-hosted, {hardware}]")
    text = text.replace("name: Measure on a10g", f"name: Measure on {hardware}")
    text = text.replace("'bench-a10g-run-{0}'", f"'bench-{hardware}-run-{{0}}'")
    text = text.replace("'bench-a10g'", f"'bench-{hardware}'")
    bench.write_text(text, encoding="utf-8")


def _retitle_guides(target: Path, v: dict[str, str], title: str) -> None:
    for name in ("CONTRIBUTING.md", "AGENTS.md"):
        p = target / name
        text = p.read_text(encoding="utf-8")
        text = text.replace("google/gemma-4-E4B-it", v["base-model"])
        text = text.replace("the Gemma-4 assistant", "an MTP drafter model")
        first = v["maintainer"].split(",")[0]
        text = text.replace("Start from an example in [`docs/examples/`](docs/examples/) or this "
                            "one:", f"Start from the baseline, [`submissions/{first}/baseline.yaml`]"
                            f"(submissions/{first}/baseline.yaml), or this one:")
        text = text.replace("Fast Gemma", title)
        text = text.replace('"0.32.0"', f'"{v["vllm-version"]}"')
        p.write_text(text, encoding="utf-8")


def write_repository(target: Path, v: dict[str, str]) -> list[str]:
    """Write the repository; returns the problems its own checks found (none expected)."""
    from arena.challenge import ChallengeError, load_challenge
    from arena.commands import validate_paths
    from arena.submission import schema_path, schema_text
    from runner.prompts import PromptSetError, load_prompt_file

    prompts_src = Path(v["public-prompts"]).expanduser()
    try:
        n_prompts = len(load_prompt_file(prompts_src))
    except PromptSetError as exc:
        raise InitError("--public-prompts: " + "; ".join(
            for_terminal(str(p), 300) for p in exc.problems[:5])) from None
    except OSError as exc:
        raise InitError(f"--public-prompts: cannot read {for_terminal(str(prompts_src))}: "
                        f"{exc.strerror}") from None
    if n_prompts == 0:
        raise InitError("--public-prompts: the file holds no prompts")
    missing = [src for src, _ in COPIED if not (REPO_ROOT / src).exists()]
    if missing:
        raise InitError("arena init copies arena's own workflows and runner operations, and "
                        f"this installation lacks {', '.join(missing)}: run it from a clone of "
                        "arena (pip install -e .)")
    template = (REPO_ROOT / "challenge.yaml").read_text(encoding="utf-8")
    title = v.get("title") or v["id"].replace("-", " ").title()
    v = dict(v, title=title)
    target.mkdir(parents=True, exist_ok=True)
    for src, dst in COPIED:
        _copy(REPO_ROOT / src, target / dst)
    _retarget_workflows(target, v["hardware"])
    _retitle_guides(target, v, title)
    (target / "prompts").mkdir(exist_ok=True)
    shutil.copy2(prompts_src, target / "prompts" / "public.jsonl")
    (target / "challenge.yaml").write_text(challenge_text(v, template), encoding="utf-8")
    first = v["maintainer"].split(",")[0]
    sub = target / "submissions" / first / "baseline.yaml"
    sub.parent.mkdir(parents=True, exist_ok=True)
    sub.write_text(baseline_text(v), encoding="utf-8")
    (target / ".github" / "labels.json").write_text(labels_json(), encoding="utf-8")
    (target / "README.md").write_text(readme_text(v, title), encoding="utf-8")
    (target / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    for rel, text in (("scripts/setup-checks.sh", SETUP_CHECKS), (".ci/run", CI_RUN)):
        p = target / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        p.chmod(0o755)
    (target / "tests" / "test_challenge.py").write_text(TESTS, encoding="utf-8")

    # Check the work: the challenge loads, the schema is written from it, the baseline validates.
    problems: list[str] = []
    try:
        ch = load_challenge(target / "challenge.yaml")
    except ChallengeError as exc:
        return [p.format() for p in exc.problems]
    schema_path(ch).write_text(schema_text(ch), encoding="utf-8")
    for report in validate_paths([ch.submissions_dir], ch):
        problems.extend(p.format() for p in report.problems)
    sys.path.insert(0, str(REPO_ROOT / "tests" / "workflows"))
    try:
        from invariants import check_directory  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    problems.extend(str(x) for x in check_directory(target / ".github" / "workflows"))
    return problems


def cmd_init(args: argparse.Namespace) -> int:
    target: Path = args.dir
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        print(f"arena init: {for_terminal(str(target))} is not an empty folder; name a new or "
              "empty one", file=sys.stderr)
        return exitcodes.USAGE
    interactive = sys.stdin.isatty() and not args.no_input
    try:
        from arena.challenge import ChallengeError, load_challenge

        defaults: dict[str, str] = {}
        try:
            defaults["vllm-version"] = load_challenge(
                REPO_ROOT / "challenge.yaml").engines["vllm"].min_version
        except (ChallengeError, KeyError):
            defaults["vllm-version"] = "0.32.0"
        guess = re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-")
        if re.fullmatch(ID_RE, guess or ""):
            defaults["id"] = guess
        values = gather(args, interactive=interactive, defaults=defaults)
        if "id" not in values:
            raise InitError("--id is required: lower-case letters, digits and hyphens")
        if args.summary:
            values["summary"] = args.summary
        problems = write_repository(target, values)
    except InitError as exc:
        print(f"arena init: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    if problems:
        print("arena init: the new repository does not check out:", file=sys.stderr)
        for p in problems:
            print("  " + for_terminal(p, 300), file=sys.stderr)
        return exitcodes.INVALID
    print(f"arena init: wrote {for_terminal(str(target))} (challenge {values['id']}), "
          "checked: the challenge loads, the baseline validates, the workflows keep their "
          "invariants")
    print("  next: cd into it, `make test`, then push it and follow its README (arena doctor)")
    return exitcodes.OK
