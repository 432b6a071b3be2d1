"""/bench, /rerun and /cancel: benchmark runs on the self-hosted GPU runner, dispatched as the bench
workflow (workflow_dispatch with inputs pr, sha, path, requested_by; `track` on a challenge with
several hardware tracks, `vs` for a paired run).

`/bench [name] [sha] [track] [vs [login/name]]`: a track of the challenge (default: the
submission's first); `vs` measures the candidate and another submission in one job, interleaved
(`vs` alone: its parent), and costs two runs of the author's quota on that track. The other
submission must be on the default branch, have a verified result on the track, not be the
candidate, and use the same model.

/bench pins the PR's head commit at the moment it is accepted; the bench job refuses to run if the
head has moved since (`arena bot fetch-submission`), and the publish step says so on the PR.

Each handler gathers (API reads into small frozen facts), decides (pure functions over those
facts: `decide_place`, `decide_access`, `decide_bench`, `decide_runs`, `decide_recount`,
`decide_cancel`), and acts (the writes). A decision that refuses says why in a `Refusal`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from github import GithubException

from arena import exitcodes
from arena.submission import ID_RE, submission_tracks, validate_file
from bot import checks, comments, labels, queue
from bot.client import API_ERRORS, describe_failure
from bot.context import Bot
from bot.owners import claim_folder, not_owner_message
from bot.permissions import is_maintainer
from bot.results_branch import StoreWriteError, stored_docs
from bot.quota import WINDOW, BenchRun, compute_quota, over_quota_runs, recent_runs, run_name
from bot.render import code, short, when
from bot.replies import NOT_ALLOWED, Handler, Refusal, Request, answer_refusal, react, reply
from bot.validation import COMMENT_KIND as VALIDATION_KIND, Assessment, State, assess_pull_request
from bot.validation import base_index
from bot.writes import create_once

QUEUED_KIND = "bench"


# -- the facts a decision needs ------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """A valid submission file of the pull request, as /bench needs to know it."""

    name: str
    id: str
    path: str
    negative: bool  # a negative result (`tried:`): never benchmarked
    patch: Any = None  # arena.submission.PatchInfo, or None
    parent: str | None = None
    model: tuple[str, str] = ("", "")  # (id, revision)
    tracks: tuple[str, ...] = ()  # the tracks it targets (empty: every track)


@dataclass(frozen=True)
class Seen:
    """The bot's validation comment: the head it last checked, and when it said so."""

    head: str
    written_at: dt.datetime


@dataclass(frozen=True)
class BenchFacts:
    command: str  # bench | rerun
    args: str
    head_sha: str
    author: str
    state: State  # the submission check at the head
    failure: str | None  # why the check could not run (State.ERROR)
    candidates: tuple[Candidate, ...]  # the valid submissions
    seen: Seen | None  # None: not checked yet (or the comment could not be found)
    said_at: dt.datetime | None  # when the /bench comment was made
    repo_url: str
    tracks: tuple[str, ...]  # the challenge's tracks; the first is the default

    def commit_url(self, sha: str) -> str:
        return f"{self.repo_url}/commit/{sha}"


@dataclass(frozen=True)
class BenchChoice:
    """What /bench will benchmark: one submission at the approved commit, on one track, alone
    or paired with another submission (`vs`: its id)."""

    candidate: Candidate
    sha: str
    track: str
    vs: str | None = None

    @property
    def cost(self) -> int:
        return 2 if self.vs else 1

    @property
    def vs_path(self) -> str | None:
        return f"submissions/{self.vs}.yaml" if self.vs else None


@dataclass(frozen=True)
class BenchArgs:
    """`/bench [name] [sha] [track] [vs [login/name]]`, split (pure: `parse_bench_args`)."""

    name: str
    sha: str | None
    track: str | None
    vs: str | None  # the other submission's id
    vs_parent: bool  # `vs` alone: against the candidate's parent


@dataclass(frozen=True)
class Other:
    """The submission a paired run measures the candidate against, as the default branch and
    the results branch know it."""

    id: str
    exists: bool  # a valid file on the default branch
    model: tuple[str, str] | None
    verified: bool  # has a verified result on the track


@dataclass(frozen=True)
class Go:
    """The quota allows the run: `used` runs of `limit` before it."""

    used: int
    limit: int


# -- decisions (pure) ----------------------------------------------------------------------------

def decide_place(req: Request) -> Refusal | None:
    if not req.is_pr:
        return Refusal("benchmarks run on pull requests. Comment `/bench` on the pull request "
                       "that adds the submission.")
    if req.issue_state != "open":
        return Refusal("this pull request is closed, so nothing is benchmarked here. Reopen it "
                       "or open a new one.")
    return None


def decide_access(*, maintainer: bool, by_author: bool, authors_may_bench: bool
                  ) -> Refusal | None:
    """Maintainers start runs; the PR's author too when the challenge allows it. Anyone else
    gets a 👎 (/help says who may start one)."""
    if maintainer or (by_author and authors_may_bench):
        return None
    return NOT_ALLOWED


def pick_submission(candidates: tuple[Candidate, ...], name: str,
                    tracks: tuple[str, ...] = ()) -> Candidate | Refusal:
    """The submission to run: the only one, or the one named. A word that is neither is
    refused naming both the submissions and the challenge's tracks."""
    if name:
        wanted = name.strip().lower()
        for c in candidates:
            if c.name == wanted or c.id.lower() == wanted:
                return c
        names = ", ".join(code(c.name, 64) for c in candidates)
        known = "; the challenge's tracks: " + ", ".join(code(t, 40) for t in tracks) \
            if tracks else ""
        return Refusal(f"this pull request has no valid submission named {code(name, 64)}. "
                       f"Its submissions: {names}{known}.")
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(code(c.name, 64) for c in candidates)
    return Refusal(f"this pull request has {len(candidates)} submissions ({names}). Name one: "
                   "`/bench <name>`.")


_SHA_ARG = re.compile(r"^[0-9a-f]{7,40}$")


def split_sha(args: str, names: list[str]) -> tuple[str, str | None]:
    """('name', 'sha prefix' or None) from `/bench [name] [sha]`: a word of 7 to 40 hex digits
    is the commit the maintainer reviewed, unless it is the name of one of the submissions."""
    words = args.split()
    sha = None
    rest = []
    for w in words:
        if sha is None and _SHA_ARG.match(w.lower()) and w.lower() not in names:
            sha = w.lower()
        else:
            rest.append(w)
    return " ".join(rest), sha


_ID_WORD = re.compile(rf"^{ID_RE}$")


def parse_bench_args(args: str, names: list[str], tracks: tuple[str, ...]) -> BenchArgs:
    """Pure: `vs` and the word after it when that is `login/name`; a 7-40 hex-digit word is
    the approved commit and a word that is a track (and no submission's name) the track,
    whatever the order; what is left is the submission's name. Punctuation that ends a word
    (`/bench l4 vs.`) is not part of it."""
    words = [w for w in (w.rstrip(".,!?;:)") for w in args.split()) if w]
    vs, vs_parent = None, False
    for i, w in enumerate(words):
        if w.lower() == "vs":
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if _ID_WORD.match(nxt):
                vs = nxt
                del words[i:i + 2]
            else:
                vs_parent = True
                del words[i]
            break
    track = None
    rest = []
    for w in words:
        if track is None and w.lower() in tracks and w.lower() not in names:
            track = w.lower()
        else:
            rest.append(w)
    name, sha = split_sha(" ".join(rest), names)
    return BenchArgs(name, sha, track, vs, vs_parent)


def _instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def approval_refusal(f: BenchFacts, named: str | None) -> str | None:
    """Why the approval does not cover the PR's current head, or None when it does.

    The approval binds to the commit the maintainer saw when commenting, never to whatever the
    head is when this job gets there (tens of seconds later, time enough for a push):
    - `/bench <sha>` names it: the head must still be that commit;
    - `/bench` means the head the bot had last checked before the comment: the latest
      validation comment must name the current head and have been written no later than the
      comment. A push after the comment is validated after it (or not yet), so it never passes.
    """
    head = f.head_sha
    moved = (f"Nothing was started. Review commit [`{short(head)}`]({f.commit_url(head)}) and "
             f"comment `/bench {short(head)}` to benchmark it.")
    if named is not None:
        if head.startswith(named):
            return None
        return (f"you approved commit `{code(named, 40)}`, but the pull request's head is now "
                f"[`{short(head)}`]({f.commit_url(head)}): it moved after your review. "
                + moved)
    if f.seen is None or f.said_at is None:
        return ("the bot has not checked this pull request's head yet, so it cannot tell which "
                "commit you reviewed. " + moved)
    checked = f.seen.head
    if checked != head:
        return (f"the head moved: when you commented, the bot had checked commit "
                f"`{short(checked) or 'unknown'}`; the head is now "
                f"[`{short(head)}`]({f.commit_url(head)}). " + moved)
    if f.seen.written_at > f.said_at:
        return (f"commit [`{short(head)}`]({f.commit_url(head)}) was checked only after your "
                "comment, so your `/bench` may have been meant for an earlier one. " + moved)
    return None


def decide_bench(f: BenchFacts) -> BenchChoice | Refusal:
    """Pure: which submission /bench runs at which commit, or why nothing is started."""
    if f.state is State.ERROR:
        return Refusal(f"{f.failure} Nothing was started; try again in a few minutes.",
                       exitcodes.INFRA)
    if f.state is not State.VALID or not f.candidates:
        return Refusal(f"the submission at commit `{short(f.head_sha)}` does not pass the check "
                       "(see the check run `arena/validate` and the comment above), so nothing "
                       "was started. Fix it, push, and comment `/bench` again.")
    a = parse_bench_args(f.args, [c.name for c in f.candidates], f.tracks)
    refusal = approval_refusal(f, a.sha)
    if refusal:
        return Refusal(refusal)
    picked = pick_submission(f.candidates, a.name, f.tracks)
    if isinstance(picked, Refusal):
        return picked
    if picked.negative:
        return Refusal(f"{code(picked.id)} is a negative result (its file has a `tried:` "
                       "block): it records what was tried and what happened, and is not "
                       "benchmarked. To have it measured, remove the `tried:` block and push.")
    targets = picked.tracks or f.tracks
    track = a.track or targets[0]
    if track not in targets:
        return Refusal(f"{code(picked.id)} is not measured on the track {code(track, 40)}: its "
                       f"file names the tracks {', '.join(code(t, 40) for t in targets)} "
                       "(`tracks:`). Name one of those, or add the track to the file and push.")
    vs = a.vs
    if a.vs_parent:
        if picked.parent is None:
            return Refusal(f"{code(picked.id)} has no parent, so `vs` alone names nothing. "
                           "Name the submission to pair it with: `/bench vs <login>/<name>`.")
        vs = picked.parent
    if vs is not None and vs.lower() == picked.id.lower():
        return Refusal(f"{code(vs, 104)} is the submission being benchmarked: a paired run "
                       "measures it against another one. Name that one: "
                       "`/bench vs <login>/<name>` (`vs` alone: its parent).")
    return BenchChoice(picked, f.head_sha, track, vs)


def decide_vs(choice: BenchChoice, other: Other) -> Refusal | None:
    """Pure: whether the other submission of a paired run can be measured with the candidate."""
    who = code(other.id, 104)
    if not other.exists:
        return Refusal(f"{who} is not a valid submission on the default branch "
                       f"(`submissions/{other.id}.yaml`), so there is nothing to pair with. "
                       "A paired run measures two submissions of the default branch's "
                       "checkout; check the name.")
    if other.model != choice.candidate.model:
        mine, theirs = choice.candidate.model, other.model or ("", "")
        return Refusal(f"{who} uses the model {code(theirs[0])} at {code(theirs[1][:12])}, "
                       f"{code(choice.candidate.id, 104)} uses {code(mine[0])} at "
                       f"{code(mine[1][:12])}: a paired run compares two submissions of one "
                       "model. Pair it with a submission of the same model.")
    if not other.verified:
        return Refusal(f"{who} has no verified result on the track {code(choice.track, 40)}, "
                       "so the comparison would have no standing. Pair with a submission that "
                       "has one (its results are on the leaderboard).")
    return None


def decide_runs(choice: BenchChoice, runs: list[BenchRun], *, pr: int, author: str,
                limit: int, maintainer: bool, now: dt.datetime,
                first_track: str | None = None, several_tracks: bool = False) -> Go | Refusal:
    """Pure: whether the run may start, given the bench runs of the last 24 hours: not while
    the same run (commit, track, pairing) is unfinished, and not past the author's quota on the
    track, a paired run costing two (maintainers may go past it)."""
    path = choice.candidate.path
    active = [r for r in runs if r.pr == pr and r.path == path and r.active]
    same = next((r for r in active if r.sha == choice.sha and r.vs == choice.vs_path
                 and (r.track or first_track) == (choice.track if several_tracks else
                                                  first_track)), None)
    if same is not None:
        return Refusal(f"[run {same.id}]({same.html_url}) already benchmarks this commit; it "
                       "has not finished yet. `/status` shows where it is.")
    q = compute_quota(author, limit, runs, now, track=choice.track if several_tracks else None,
                      first_track=first_track)
    if not maintainer and q.left < choice.cost:
        nxt = f" The next run is possible at {when(q.next_at)}." if q.next_at else ""
        where = f" on the track {code(choice.track, 40)}" if several_tracks else ""
        paired = (f" A paired run (`vs`) costs {choice.cost} runs." if choice.vs and q.left
                  else "")
        return Refusal(f"{code(author, 40)} has used {q.used} of {q.limit} benchmark runs"
                       f"{where} in the last 24 hours.{paired}{nxt} A maintainer can still "
                       "start one.")
    return Go(q.used, q.limit)


def decide_recount(run_id: int, run_url: str, runs_after: list[BenchRun], *, author: str,
                   limit: int, now: dt.datetime, track: str | None = None,
                   first_track: str | None = None) -> Refusal | int:
    """Pure: after dispatching, the quota counted again: the later of two runs started at the
    same moment past the quota gives way. The runs used, or the refusal (the run is cancelled)."""
    after = compute_quota(author, limit, runs_after, now, track=track, first_track=first_track)
    if any(r.id == run_id for r in over_quota_runs(after)):
        return Refusal(f"another run of {code(author, 40)}'s submissions was started at the "
                       f"same moment and used the last of the quota, so [run {run_id}]"
                       f"({run_url}) was cancelled.")
    return after.used


# -- gathering -----------------------------------------------------------------------------------

def candidates_of(a: Assessment) -> tuple[Candidate, ...]:
    return tuple(Candidate(r.submission.name, r.submission.id, r.path, r.submission.negative,
                           r.submission.patch, r.submission.parent,
                           (r.submission.model.id, r.submission.model.revision),
                           r.submission.tracks)
                 for r in a.valid_reports if r.submission is not None)


def seen_validation(bot: Bot, number: int) -> Seen | None:
    """The bot's validation comment on the PR (one request, more on a long thread)."""
    c = comments.find_sticky(bot, number, VALIDATION_KIND)
    if c is None:
        return None
    written = c.comment.updated_at
    return Seen(c.fields.get("head", ""),
                written if written.tzinfo else written.replace(tzinfo=dt.timezone.utc))


def gather_bench(bot: Bot, req: Request, pull: Any) -> BenchFacts:
    """The PR's head, its submission check at that head, and (when a bare /bench has to be
    tied to a commit) the bot's validation comment. Nothing a refusal makes useless is read:
    an invalid submission is refused before the comment is looked up."""
    sha, author = pull.head.sha, pull.user.login
    bot.say(f"#{req.number} head is {short(sha)}")
    a = assess_pull_request(bot, req.number, sha, author, pull.user.id)
    cands = candidates_of(a)
    tracks = bot.challenge.track_names
    seen = None
    if a.state is State.VALID and cands and \
            parse_bench_args(req.command.args, [c.name for c in cands], tracks).sha is None:
        seen = seen_validation(bot, req.number)
    return BenchFacts(req.name, req.command.args, sha, author, a.state, a.failure, cands, seen,
                      _instant(req.created_at), bot.repo_url, tracks)


MAX_RESULTS_READ = 20  # the newest results of the other submission looked at


def gather_other(bot: Bot, sid: str, track: str) -> Other:
    """The other submission of a paired run: its file on the default branch's checkout
    (validated as `arena bench` will read it) and whether the results branch holds a verified
    result of it on the track (one request for the tree, one per result read, newest first)."""
    login, _, name = sid.partition("/")
    path = f"submissions/{login}/{name}.yaml"
    file = bot.challenge.submissions_dir / login / f"{name}.yaml"
    model = None
    if file.is_file() and not file.is_symlink():
        report = validate_file(file.read_bytes(), path_in_repo=path, challenge=bot.challenge,
                               index=base_index(bot.challenge))
        if report.valid and report.submission is not None:
            model = (report.submission.model.id, report.submission.model.revision)
    if model is None:
        return Other(sid, False, None, False)
    return Other(sid, True, model, verified_on_track(bot, sid, track))


def verified_on_track(bot: Bot, sid: str, track: str) -> bool:
    """Whether one of the newest results of `sid` on the results branch is verified on
    `track` (a result naming no track is on the first)."""
    first = bot.challenge.track_names[0]
    for doc in stored_docs(bot, lambda p: p.startswith(f"results/{sid}/") and p.endswith(".json"),
                           limit=MAX_RESULTS_READ, newest_first=True):
        ch = doc.get("challenge")
        if isinstance(ch, dict) and doc.get("verdict") == "verified" and \
                (ch.get("track") or first) == track:
            return True
    return False


# -- acting --------------------------------------------------------------------------------------

def dispatch(bot: Bot, *, pr: int, sha: str, path: str, requested_by: str,
             track: str | None = None, vs: str | None = None) -> Any:
    """Dispatch the bench workflow and return its run (id, html_url). A dispatch that may have
    happened despite an error is looked up by its run name before dispatching again
    (bot.writes). `track` and `vs` are sent only when given, so a one-track challenge's
    dispatch is what it always was."""
    workflow = bot.repo.get_workflow(bot.bench_workflow)
    inputs = {"pr": str(pr), "sha": sha, "path": path, "requested_by": requested_by,
              **({"track": track} if track else {}), **({"vs": vs} if vs else {})}
    name = run_name(pr, path, sha, requested_by, track, vs)
    started = bot.now()

    def find() -> Any | None:
        return next((run for run in recent_runs(bot, started - WINDOW / 24)
                     if run_name(run.pr, run.path, run.sha, run.requested_by, run.track,
                                 run.vs) == name
                     and run.created_at >= started.replace(microsecond=0) - WINDOW / 144), None)

    return create_once(bot, f"dispatching {bot.bench_workflow}",
                       lambda: workflow.create_dispatch(bot.default_branch, inputs, throw=True,
                                                        return_run_details=True),
                       find, pause_s=2.0)


def cancel_run(bot: Bot, run_id: int) -> None:
    try:
        bot.gh.requester.requestJsonAndCheck(
            "POST", f"{bot.repo.url}/actions/runs/{int(run_id)}/cancel")
    except GithubException as exc:
        if exc.status != 409:  # 409: it already finished, which is what we wanted
            raise


def queued_body(bot: Bot, *, run_id: int, run_url: str, sha: str, path: str, sub_id: str,
                requested_by: str, check_id: int | str | None, quota_line: str, nonce: str | None = None,
                patch: Any = None, requested_by_id: int | None = None,
                queue: str = "") -> str:
    # What was approved: the commit, and the engine patch's SHA-256 where the submission has one.
    patch_sha = patch.sha256 if patch is not None else None
    fields = dict(run=run_id, sha=sha, check=check_id, patch=patch_sha, by=requested_by_id)
    head = comments.marker(QUEUED_KIND, **fields, nonce=nonce) if nonce else \
        comments.with_nonce(QUEUED_KIND, **fields)
    patch_line = ([f"It carries the engine patch {code(patch.path)} (SHA-256 {code(patch_sha)}: "
                   f"{patch.files} file{'s' if patch.files != 1 else ''}, +{patch.added} "
                   f"−{patch.removed} lines), which was approved with the commit.", ""]
                  if patch is not None else [])
    return "\n".join([
        head,
        f"### ⏳ Benchmark queued: {code(sub_id)}",
        "",
        f"Approved commit: [`{short(sha)}`]({bot.commit_url(sha)}), the one "
        f"{code(requested_by, 40)} reviewed. [Run {run_id}]({run_url}) will benchmark "
        f"{code(path)} at that commit and nothing else. It waits for a GPU runner (and for a "
        "maintainer's approval where the environment asks for one); the results will be posted "
        "here.",
        "",
        *patch_line,
        "A push to this pull request is never benchmarked on this approval: the run refuses a "
        "moved head, and a new commit needs a new `/bench`. `/cancel` cancels the run while it "
        "is queued (a maintainer can stop a started run, which is still recorded).",
        "",
        quota_line,
        *(["", queue] if queue else []),
    ])


def claim_or_refuse(bot: Bot, req: Request, pull: Any, path: str) -> Refusal | None:
    """The first benchmark in a folder records the account that owns it (bot.owners); a folder
    another account owns is refused."""
    folder = path.split("/")[-2]
    author = pull.user.login
    if folder.lower() != author.lower() or not isinstance(pull.user.id, int):
        return None
    try:
        owner = claim_folder(bot, login=folder, user_id=pull.user.id, pr=req.number,
                             at=bot.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    except StoreWriteError as exc:
        return Refusal(f"the folder's owner could not be recorded: {exc} Nothing was started; "
                       "try again in a few minutes.", exitcodes.INFRA)
    if owner != pull.user.id:
        return Refusal(not_owner_message(folder, owner, pull.user.id) + " Nothing was started.")
    return None


def benchmark_check(bot: Bot, req: Request, *, sha: str, author: str, sub_id: str,
                    run_id: int, run_url: str) -> int | str | None:
    """The queued `arena/benchmark` check run's id; NO_CHECK when the commit's checks belong to
    an earlier PR by someone else; None when GitHub refused it (said in the log)."""
    try:
        if checks.earlier_owner_of_head(bot, req.number, sha, author) is not None:
            bot.say(f"{short(sha)} is also the head of an earlier PR by someone else: no check "
                    "run")
            return checks.NO_CHECK
        return checks.create_check_run(
            bot, name=checks.BENCHMARK, sha=sha, status="queued",
            title=f"Queued: {sub_id}", summary=f"Benchmark run {run_id} is queued.",
            details_url=run_url).id
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Creating the benchmark check run", bot.now()))
        return None


def handle_bench(bot: Bot, req: Request) -> int:
    refusal = decide_place(req)
    if refusal:
        return answer_refusal(bot, req, refusal)
    maintainer = is_maintainer(bot, req.sender)
    refusal = decide_access(maintainer=maintainer, by_author=req.by_author,
                            authors_may_bench=bot.challenge.authors_may_bench)
    if refusal:
        return answer_refusal(bot, req, refusal)
    react(bot, req)

    pull = bot.repo.get_pull(req.number)
    choice = decide_bench(gather_bench(bot, req, pull))
    if isinstance(choice, Refusal):
        return answer_refusal(bot, req, choice)
    if choice.vs is not None:
        refusal = decide_vs(choice, gather_other(bot, choice.vs, choice.track))
        if refusal:
            return answer_refusal(bot, req, refusal)
    cand, sha, author = choice.candidate, choice.sha, pull.user.login
    track = bot.challenge.track(choice.track)
    first = bot.challenge.track_names[0]
    several = len(bot.challenge.tracks) > 1
    limit = track.runs_per_author_per_day
    on_track = track.name if several else None  # what the dispatch and the quota name

    runs = recent_runs(bot, bot.now() - WINDOW)
    if req.name == "rerun" and not any(r.pr == req.number and r.path == cand.path for r in runs):
        bot.say("no earlier run in the window; /rerun acts as /bench")
    go = decide_runs(choice, runs, pr=req.number, author=author, limit=limit,
                     maintainer=maintainer, now=bot.now(), first_track=first,
                     several_tracks=several)
    if isinstance(go, Refusal):
        return answer_refusal(bot, req, go)
    refusal = claim_or_refuse(bot, req, pull, cand.path)
    if refusal:
        return answer_refusal(bot, req, refusal)

    bot.say(f"dispatching {bot.bench_workflow} for {cand.path}@{short(sha)}"
            + (f" on {track.name}" if several else "")
            + (f" vs {choice.vs_path}" if choice.vs_path else ""))
    run = dispatch(bot, pr=req.number, sha=sha, path=cand.path, requested_by=req.sender,
                   track=on_track, vs=choice.vs_path)
    run_id, run_url = int(run.id), run.html_url
    used_after = go.used + choice.cost
    runs_after = [BenchRun(run_id, req.number, cand.path, sha, req.sender, bot.now(), "queued",
                           None, run_url, track=on_track, vs=choice.vs_path)] + \
        [r for r in runs if r.id != run_id]
    if not maintainer:
        runs_after = recent_runs(bot, bot.now() - WINDOW)
        counted = decide_recount(run_id, run_url, runs_after, author=author, limit=limit,
                                 now=bot.now(), track=on_track, first_track=first)
        if isinstance(counted, Refusal):
            cancel_run(bot, run_id)
            return answer_refusal(bot, req, counted)
        used_after = counted

    check_id = benchmark_check(bot, req, sha=sha, author=author, sub_id=cand.id, run_id=run_id,
                               run_url=run_url)
    where = f" on the track {code(track.name, 40)}" if several else ""
    quota_line = (f"Quota of {code(author, 40)}: {used_after} of {go.limit} runs used{where} in "
                  "the last 24 hours." if go.limit else "")
    if choice.vs:
        quota_line = (f"Paired with {code(choice.vs, 104)}: one job measures both, interleaved "
                      "on one runner, and the comparison comes from the pairs; it costs "
                      f"{choice.cost} runs. " + quota_line).strip()
    if several:
        quota_line = (f"Track {code(track.name, 40)}: runners labelled "
                      f"{code(track.runner_label, 40)}. " + quota_line).strip()
    same_track = [r for r in runs_after if r.on_track(track.name, first)]
    comments.post_comment(bot, req.number, queued_body(
        bot, run_id=run_id, run_url=run_url, sha=sha, path=cand.path, sub_id=cand.id,
        requested_by=req.sender, check_id=check_id, quota_line=quota_line,
        patch=cand.patch, requested_by_id=req.sender_id,
        queue=queue.describe(bot, same_track, run_id, label=track.runner_label)))
    try:
        labels.set_state_label(bot, req.number, labels.BENCHMARK, "queued")
    except API_ERRORS as exc:
        bot.say(describe_failure(exc, "Setting the label", bot.now()))
    return exitcodes.OK


# A run is queued (nothing measured yet) while GitHub holds it before any job started; once it
# is in progress the bench job may be measuring, and only a maintainer may stop it.
QUEUED_STATUSES = ("queued", "waiting", "requested", "pending")


@dataclass(frozen=True)
class CancelPlan:
    cancel: tuple[BenchRun, ...]  # cancelled now
    started: tuple[BenchRun, ...]  # left running: only a maintainer stops a started run


def decide_cancel(runs: list[BenchRun], *, maintainer: bool) -> CancelPlan | Refusal:
    """Pure: which of the PR's unfinished runs /cancel stops."""
    if not runs:
        return Refusal("no benchmark of this pull request is queued or running.")
    started = () if maintainer else tuple(r for r in runs if r.status not in QUEUED_STATUSES)
    return CancelPlan(tuple(r for r in runs if r not in started), started)


def cancel_text(plan: CancelPlan) -> str:
    parts = []
    if plan.cancel:
        listed = ", ".join(f"[run {r.id}]({r.html_url})" for r in plan.cancel)
        parts.append(f"cancelling {listed}. The run's final message will follow here; a run "
                     "that had started is recorded as an error with the stage it reached.")
    if plan.started:
        listed = ", ".join(f"[run {r.id}]({r.html_url})" for r in plan.started)
        parts.append(f"{listed} has already started, so it runs to the end and its result is "
                     "recorded; only a maintainer can stop a started run.")
    return " ".join(parts)


def handle_cancel(bot: Bot, req: Request) -> int:
    if not req.is_pr:
        reply(bot, req, "`/cancel` works on a pull request with a queued or running benchmark.")
        return exitcodes.OK
    maintainer = is_maintainer(bot, req.sender)
    if not req.by_author and not maintainer:
        return answer_refusal(bot, req, NOT_ALLOWED)
    react(bot, req)
    runs = [r for r in recent_runs(bot, bot.now() - 2 * WINDOW) if r.pr == req.number and r.active]
    plan = decide_cancel(runs, maintainer=maintainer)
    if isinstance(plan, Refusal):
        return answer_refusal(bot, req, plan)
    for r in plan.cancel:
        cancel_run(bot, r.id)
    reply(bot, req, cancel_text(plan))
    return exitcodes.OK


COMMANDS: dict[str, Handler] = {"bench": handle_bench, "rerun": handle_bench,
                                "cancel": handle_cancel}
