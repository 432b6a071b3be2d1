"""A local fake of the GitHub REST API: a real HTTP server (werkzeug, in a thread) with state,
implementing exactly the operations the bot uses.

Every request it receives and every response it sends is checked against GitHub's official
REST description (tests/bot/openapi_check.py); a mismatch is recorded in `violations`, and the
tests fail on any. Response bodies start from the description's own examples, filled with the
fake's state. Faults can be injected per operation: 500, 502 (optionally after the write was
applied, as GitHub sometimes does), primary and secondary rate limits, 404, 409, and timeouts
(the answer comes after the client gave up, the write already applied).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from openapi_check import Description

# The bench workflow's run-name, as .github/workflows/bench.yml writes it (GitHub expands the
# expressions from the dispatch inputs): the fake names runs the way GitHub would.
BENCH_RUN_NAME = "bench #${{ inputs.pr }} ${{ inputs.path }}@${{ inputs.sha }} by " \
                 "${{ inputs.requested_by }}"
# ... followed by the optional inputs, only when given (the fake renders them in _run_name).
BENCH_RUN_NAME_OPTIONAL = ("${{ inputs.track && format(' on {0}', inputs.track) || '' }}"
                           "${{ inputs.vs && format(' vs {0}', inputs.vs) || '' }}")

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def now_iso(t: dt.datetime | None = None) -> str:
    return (t or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_sha(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha1(data).hexdigest()


@dataclass
class Entry:
    kind: str  # file | symlink | submodule
    data: bytes = b""
    target: str = ""


@dataclass
class PullState:
    number: int
    author: str
    title: str
    body: str
    head_sha: str
    base_sha: str
    head_repo: str  # owner/name of the head repository (a fork for outside contributors)
    files: list[dict[str, Any]]
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    updated_at: str = field(default_factory=now_iso)


@dataclass
class Comment:
    id: int
    issue: int
    login: str
    user_type: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class Run:
    id: int
    workflow: str
    display_title: str
    created_at: dt.datetime
    status: str = "queued"
    conclusion: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    started_at: dt.datetime | None = None  # run_started_at (default: created_at)
    updated_at: dt.datetime | None = None  # (default: created_at)


@dataclass
class Fault:
    op: str
    kind: str  # 500 | 502 | 502-applied | rate-limit | rate-limit-short | secondary | 404 | 409 | timeout
    times: int = 1  # how many requests it hits; -1: all


@dataclass
class Call:
    method: str
    path: str
    op: str
    status: int
    token: str


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the calls list records them
        pass


class FakeGitHub:
    def __init__(self, description: Description, *, owner: str = "arena-org",
                 repo: str = "arena", timeout_delay: float = 1.1):
        self.d = description
        self.owner, self.repo = owner, repo
        self.full_name = f"{owner}/{repo}"
        self.default_branch = "main"
        self.timeout_delay = timeout_delay
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.user_ids: dict[str, int] = {}
        self.tokens: dict[str, str] = {"write-token": "write", "read-token": "read"}
        # The repository's maintainers, as GitHub knows them (challenge.yaml grants nothing).
        self.collaborators: dict[str, str] = {"arena-maintainers": "admin"}
        self.pulls: dict[int, PullState] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.commits: dict[str, dict[str, Entry]] = {}
        self.branches: dict[str, str] = {"main": git_sha("main")}
        self.branch_files: dict[str, dict[str, bytes]] = {"main": {}}
        self.comments: list[Comment] = []
        self.reactions: list[dict[str, Any]] = []
        self.labels_created: set[str] = set()
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.workflows = {"bench.yml": 161335, "site.yml": 161336}
        self.runs: list[Run] = []
        self.runners: list[dict[str, Any]] = []  # self-hosted runners (add_runner)
        self.runners_forbidden = False  # the token may not list runners: 403
        self.dispatches: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.on_dispatch: Callable[[Run], None] | None = None
        self.write_window = 0.0  # seconds between reading and moving a branch (to race writers)
        self.bot_login = "github-actions[bot]"
        self.routes = self._build_routes()
        self.server: Any = None
        self.thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                  request_handler=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- test set-up helpers --------------------------------------------------------------------

    def uid(self, login: str) -> int:
        return self.user_ids.setdefault(login.lower(), 5000 + len(self.user_ids))

    def add_commit(self, files: dict[str, bytes | Entry], sha: str | None = None) -> str:
        tree = {p: (v if isinstance(v, Entry) else Entry("file", v)) for p, v in files.items()}
        sha = sha or git_sha(json.dumps(sorted((p, e.kind, e.data.hex(), e.target)
                                               for p, e in tree.items())) + str(next(self.ids)))
        self.commits[sha] = tree
        return sha

    def open_pull(self, author: str, files: dict[str, bytes | Entry | None], *,
                  title: str = "Add a submission", body: str = "", fork: bool = True,
                  statuses: dict[str, str] | None = None, renamed: dict[str, str] | None = None,
                  labels: list[str] | None = None) -> PullState:
        """A PR whose head commit holds `files` (None: the file is removed by the PR)."""
        number = max([0, *self.pulls, *self.issues]) + 1
        present = {p: v for p, v in files.items() if v is not None}
        head = self.add_commit(present)  # type: ignore[arg-type]
        changes = []
        for p, v in files.items():
            status = (statuses or {}).get(p) or ("removed" if v is None else "added")
            entry: dict[str, Any] = {"filename": p, "status": status}
            if renamed and p in renamed:
                entry["status"] = "renamed"
                entry["previous_filename"] = renamed[p]
            changes.append(entry)
        pr = PullState(number, author, title, body, head, self.branches["main"],
                       f"{author}/{self.repo}" if fork else self.full_name, changes,
                       list(labels or []))
        self.pulls[number] = pr
        return pr

    def push(self, number: int, files: dict[str, bytes | Entry]) -> str:
        pr = self.pulls[number]
        tree = dict(self.commits[pr.head_sha])
        tree.update({p: (v if isinstance(v, Entry) else Entry("file", v)) for p, v in files.items()})
        pr.head_sha = self.add_commit(tree)
        return pr.head_sha

    def open_issue(self, author: str, title: str, body: str = "") -> int:
        number = max([0, *self.pulls, *self.issues]) + 1
        self.issues[number] = {"number": number, "title": title, "body": body, "author": author,
                               "labels": [], "state": "open", "user_type": "User"}
        return number

    def add_comment(self, number: int, login: str, body: str, user_type: str = "User") -> Comment:
        with self.lock:
            c = Comment(next(self.ids), number, login, user_type, body, now_iso(), now_iso())
            self.comments.append(c)
            return c

    def add_run(self, inputs: dict[str, str], *, created_at: dt.datetime | None = None,
                status: str = "completed", conclusion: str | None = "success",
                workflow: str = "bench.yml", started_at: dt.datetime | None = None,
                updated_at: dt.datetime | None = None) -> Run:
        with self.lock:
            run = Run(next(self.ids), workflow, self._run_name(workflow, inputs),
                      created_at or dt.datetime.now(dt.timezone.utc), status,
                      conclusion if status == "completed" else None, dict(inputs),
                      started_at, updated_at)
            self.runs.append(run)
            return run

    def inject(self, op: str, kind: str, times: int = 1) -> None:
        assert op in self.d.ops, op
        self.faults.append(Fault(op, kind, times))

    def will_time_out(self, method: str, path: str) -> bool:
        """Whether the fake will answer this request late (a `timeout` fault is next for its
        operation), so that the client may give up on it sooner than on the others."""
        matched = self._match(method, path)
        if matched is None:
            return False
        with self.lock:
            pending = next((f for f in self.faults if f.op == matched[0] and f.times != 0), None)
        return pending is not None and pending.kind == "timeout"

    def comments_on(self, number: int, login: str | None = None) -> list[Comment]:
        return [c for c in self.comments if c.issue == number and
                (login is None or c.login == login)]

    def bot_comments(self, number: int) -> list[Comment]:
        return self.comments_on(number, self.bot_login)

    def labels_of(self, number: int) -> list[str]:
        if number in self.pulls:
            return self.pulls[number].labels
        return self.issues[number]["labels"]

    def calls_to(self, op: str | None = None) -> list[Call]:
        return [c for c in self.calls if op is None or c.op == op]

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- objects in GitHub's shapes -------------------------------------------------------------

    def _api(self, path: str) -> str:
        return f"{self.url}{path}"

    def _html(self, path: str) -> str:
        return f"https://github.com{path}"

    def user(self, login: str, user_type: str = "User") -> dict[str, Any]:
        u = self.d.example("issues/list-comments")[0]["user"]
        uid = self.uid(login)
        u.update(login=login, id=uid, node_id=f"U_{uid}", type=user_type,
                 url=self._api(f"/users/{login}"), html_url=self._html(f"/{login}"))
        return u

    def repository(self, full_name: str | None = None) -> dict[str, Any]:
        r = self.d.example("pulls/get")["base"]["repo"]
        full = full_name or self.full_name
        owner, name = full.split("/")
        r.update(full_name=full, name=name, owner=self.user(owner), fork=full != self.full_name,
                 url=self._api(f"/repos/{full}"), html_url=self._html(f"/{full}"),
                 default_branch=self.default_branch)
        return r

    def label(self, name: str) -> dict[str, Any]:
        lb = self.d.example("issues/list-labels-on-issue")[0]
        lid = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
        lb.update(name=name, id=lid, node_id=f"L_{lid}", default=False,
                  url=self._api(f"/repos/{self.full_name}/labels/{urllib.parse.quote(name)}"))
        return lb

    def pull_json(self, pr: PullState, listing: bool = False) -> dict[str, Any]:
        p = self.d.example("pulls/list")[0] if listing else self.d.example("pulls/get")
        base = f"/repos/{self.full_name}/pulls/{pr.number}"
        p.update(number=pr.number, id=pr.number * 10, title=pr.title, body=pr.body,
                 state=pr.state, user=self.user(pr.author), url=self._api(base),
                 html_url=self._html(f"/{self.full_name}/pull/{pr.number}"),
                 labels=[self.label(n) for n in pr.labels], requested_teams=[],
                 updated_at=pr.updated_at, merged_at=None, closed_at=None)
        p["head"].update(sha=pr.head_sha, ref="submission", label=f"{pr.author}:submission",
                         user=self.user(pr.author), repo=self.repository(pr.head_repo))
        p["base"].update(sha=pr.base_sha, ref=self.default_branch, repo=self.repository())
        return p

    def comment_json(self, c: Comment) -> dict[str, Any]:
        j = self.d.example("issues/create-comment", "201")
        j.update(id=c.id, node_id=f"IC_{c.id}", body=c.body, user=self.user(c.login, c.user_type),
                 created_at=c.created_at, updated_at=c.updated_at,
                 url=self._api(f"/repos/{self.full_name}/issues/comments/{c.id}"),
                 html_url=self._html(f"/{self.full_name}/pull/{c.issue}#issuecomment-{c.id}"),
                 issue_url=self._api(f"/repos/{self.full_name}/issues/{c.issue}"))
        return j

    def check_json(self, cid: int) -> dict[str, Any]:
        c = self.check_runs[cid]
        j = self.d.example("checks/create", "201")
        j.update(id=cid, node_id=f"CR_{cid}", name=c["name"], head_sha=c["head_sha"],
                 status=c["status"], conclusion=c.get("conclusion"),
                 external_id=c.get("external_id"), details_url=c.get("details_url"),
                 url=self._api(f"/repos/{self.full_name}/check-runs/{cid}"),
                 html_url=self._html(f"/{self.full_name}/runs/{cid}"),
                 completed_at=c.get("completed_at"), pull_requests=[])
        out = c.get("output") or {}
        j["output"] = {"title": out.get("title"), "summary": out.get("summary"),
                       "text": out.get("text"), "annotations_count": len(c["annotations"]),
                       "annotations_url": self._api(
                           f"/repos/{self.full_name}/check-runs/{cid}/annotations")}
        return j

    def run_json(self, run: Run) -> dict[str, Any]:
        j = self.d.example("actions/list-workflow-runs")["workflow_runs"][0]
        j.update(id=run.id, name=run.workflow.removesuffix(".yml"), display_title=run.display_title,
                 status=run.status, conclusion=run.conclusion, event="workflow_dispatch",
                 created_at=now_iso(run.created_at),
                 updated_at=now_iso(run.updated_at or run.created_at),
                 run_started_at=now_iso(run.started_at or run.created_at),
                 head_branch=self.default_branch,
                 workflow_id=self.workflows[run.workflow],
                 url=self._api(f"/repos/{self.full_name}/actions/runs/{run.id}"),
                 html_url=self._html(f"/{self.full_name}/actions/runs/{run.id}"),
                 cancel_url=self._api(f"/repos/{self.full_name}/actions/runs/{run.id}/cancel"),
                 pull_requests=[])
        return j

    def issue_json(self, number: int) -> dict[str, Any]:
        i = self.issues[number]
        j = self.d.example("issues/create", "201")
        j.update(number=number, id=number * 10, node_id=f"I_{number}", title=i["title"],
                 body=i["body"], user=self.user(i["author"], i.get("user_type", "User")),
                 labels=[self.label(n) for n in i["labels"]], state=i["state"],
                 url=self._api(f"/repos/{self.full_name}/issues/{number}"),
                 html_url=self._html(f"/{self.full_name}/issues/{number}"),
                 assignee=None, assignees=[], milestone=None, closed_by=None)
        j.pop("pull_request", None)
        return j

    def _run_name(self, workflow: str, inputs: dict[str, Any]) -> str:
        if workflow != "bench.yml":
            return workflow.removesuffix(".yml")
        name = re.sub(r"\$\{\{ inputs\.([a-z_]+) \}\}", lambda m: str(inputs.get(m.group(1), "")),
                      BENCH_RUN_NAME)
        # The optional inputs, as `${{ inputs.track && format(' on {0}', inputs.track) || '' }}`
        # (and the same for vs) render them after the title.
        return name + "".join(f" {word} {inputs[key]}" for key, word in (("track", "on"),
                                                                         ("vs", "vs"))
                              if inputs.get(key))

    # -- routing --------------------------------------------------------------------------------

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        handlers = {
            "pulls/get": self.h_pull, "pulls/list-files": self.h_pull_files,
            "pulls/list": self.h_pulls, "repos/get-content": self.h_get_content,
            "repos/create-or-update-file-contents": self.h_put_content,
            "repos/get-collaborator-permission-level": self.h_permission,
            "issues/list-comments": self.h_list_comments,
            "issues/list-comments-for-repo": self.h_repo_comments,
            "issues/get-comment": self.h_get_comment,
            "issues/create-comment": self.h_create_comment,
            "issues/update-comment": self.h_update_comment,
            "reactions/create-for-issue-comment": self.h_reaction,
            "checks/create": self.h_check_create, "checks/update": self.h_check_update,
            "checks/list-for-ref": self.h_check_list,
            "issues/list-labels-on-issue": self.h_labels, "issues/add-labels": self.h_add_labels,
            "issues/remove-label": self.h_remove_label,
            "actions/list-workflow-runs": self.h_runs,
            "actions/create-workflow-dispatch": self.h_dispatch,
            "actions/cancel-workflow-run": self.h_cancel,
            "actions/list-self-hosted-runners-for-repo": self.h_runners,
            "issues/list-for-repo": self.h_issues, "issues/create": self.h_issue_create,
            "issues/update": self.h_issue_update,
            "git/create-tree": self.h_tree, "git/get-tree": self.h_get_tree, "git/create-commit": self.h_commit,
            "git/create-ref": self.h_ref,
        }
        routes = []
        for op, handler in handlers.items():
            tmpl = self.d.ops[op].path
            rx = re.escape(tmpl)
            rx = re.sub(r"\\\{path\\\}", r"(?P<path>.+)", rx)
            rx = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", rx)
            routes.append((op, re.compile(rx + "$"), handler))
        # literal segments first, so /issues/comments/1 is not taken for /issues/{issue_number}
        routes.sort(key=lambda r: -len(re.sub(r"\(\?P<[^>]+>[^)]+\)", "", r[1].pattern)))
        return routes

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str], Callable[..., Any]] | None:
        for op, rx, handler in self.routes:
            if self.d.ops[op].method != method:
                continue
            m = rx.match(path)
            if m:
                return op, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}, handler
        return None

    def _quoted_path(self, op: str, params: dict[str, str]) -> str:
        tmpl = self.d.ops[op].path
        return re.sub(r"\{([a-z_]+)\}", lambda m: urllib.parse.quote(params[m.group(1)], safe=""),
                      tmpl)

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        req = Request(environ)
        resp = self._handle(req)
        return resp(environ, start_response)

    def _handle(self, req: Request) -> Response:
        method, path = req.method, req.path
        body = req.get_data() or None
        query = {k: req.args.getlist(k) for k in req.args}
        headers = {k: v for k, v in req.headers.items()}
        auth = headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        matched = self._match(method, path)
        if matched is None:
            self.violations.append(f"{method} {path}: the fake has no such operation")
            return self._json(404, {"message": "Not Found",
                                    "documentation_url": "https://docs.github.com/rest"})
        op, params, handler = matched
        qpath = self._quoted_path(op, params)
        self.violations.extend(self.d.check_request(method, qpath, query, headers, body))
        status, payload, extra = self._dispatch(op, params, handler, method, token, query, body)
        with self.lock:
            self.calls.append(Call(method, path, op, status, token))
        raw = b"" if payload is None else json.dumps(payload).encode()
        if status not in (204,) and status < 500 and self.d.documents_status(op, status):
            self.violations.extend(self.d.check_response(
                method, qpath, query, headers, body, status, raw,
                "application/json" if payload is not None else None))
        return self._raw(status, raw, extra)

    def _dispatch(self, op: str, params: dict[str, str], handler: Callable[..., Any], method: str,
                  token: str, query: dict[str, list[str]], body: bytes | None
                  ) -> tuple[int, Any, dict[str, str]]:
        level = self.tokens.get(token)
        if level is None:
            return 401, {"message": "Bad credentials",
                         "documentation_url": "https://docs.github.com/rest"}, {}
        if method in WRITE_METHODS and level != "write":
            return 403, {"message": "Resource not accessible by integration",
                         "documentation_url": "https://docs.github.com/rest"}, {}
        fault = self._take_fault(op)
        data = json.loads(body) if body else {}
        q = {k: v[0] for k, v in query.items()}
        if fault in ("500", "502", "404", "409") or (fault or "").startswith(("rate", "secondary")):
            return self._fault_response(fault)  # type: ignore[arg-type]
        with self.lock:
            result = handler(params, q, data)
        status, payload = result[0], result[1]
        extra = result[2] if len(result) > 2 else {}
        if fault == "502-applied":
            return self._fault_response("502")
        if fault == "timeout":
            time.sleep(self.timeout_delay)  # the client gave up; the write happened anyway
        return status, payload, extra

    def _take_fault(self, op: str) -> str | None:
        with self.lock:
            for f in self.faults:
                if f.op == op and f.times != 0:
                    if f.times > 0:
                        f.times -= 1
                    return f.kind
        return None

    def _fault_response(self, kind: str) -> tuple[int, Any, dict[str, str]]:
        doc = "https://docs.github.com/rest"
        reset = int(time.time())
        if kind in ("500", "502"):
            return int(kind), {"message": "Server Error"} if kind == "500" else None, {}
        if kind == "404":
            return 404, {"message": "Not Found", "documentation_url": doc}, {}
        if kind == "409":
            return 409, {"message": "Conflict", "documentation_url": doc}, {}
        if kind == "rate-limit":  # primary, resets in an hour
            return 403, {"message": "API rate limit exceeded for installation ID 1.",
                         "documentation_url": doc}, {
                "x-ratelimit-remaining": "0", "x-ratelimit-limit": "1000",
                "x-ratelimit-reset": str(reset + 3600)}
        if kind == "rate-limit-short":  # primary, resets in a second
            return 403, {"message": "API rate limit exceeded for installation ID 1.",
                         "documentation_url": doc}, {
                "x-ratelimit-remaining": "0", "x-ratelimit-limit": "1000",
                "x-ratelimit-reset": str(reset + 1)}
        if kind == "secondary":
            return 403, {"message": "You have exceeded a secondary rate limit. Please wait a few "
                                    "minutes before you try again.",
                         "documentation_url": doc}, {"retry-after": "600"}
        raise AssertionError(kind)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> Response:
        return self._raw(status, b"" if payload is None else json.dumps(payload).encode(), extra)

    def _raw(self, status: int, raw: bytes, extra: dict[str, str] | None) -> Response:
        headers = {"x-ratelimit-limit": "1000", "x-ratelimit-remaining": "999",
                   "x-ratelimit-reset": str(int(time.time()) + 3600),
                   "x-github-request-id": f"FAKE:{next(self.ids)}"}
        headers.update(extra or {})
        return Response(raw if status != 204 else b"", status=status, headers=headers,
                        content_type="application/json; charset=utf-8")

    def _page(self, items: list[Any], q: dict[str, str], path: str
              ) -> tuple[list[Any], dict[str, str]]:
        per_page = int(q.get("per_page", 30))
        page = int(q.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        extra = {}
        last = max(1, -(-len(items) // per_page))
        if last > 1:  # GitHub's Link header: next, last, first, prev, as they apply
            def link(n: int, rel: str) -> str:
                return f'<{self.url}{path}?{urllib.parse.urlencode(dict(q, page=str(n)))}>; ' \
                       f'rel="{rel}"'
            rels = []
            if page < last:
                rels += [link(page + 1, "next"), link(last, "last")]
            if page > 1:
                rels += [link(1, "first"), link(page - 1, "prev")]
            extra["Link"] = ", ".join(rels)
        return chunk, extra

    # -- handlers: (params, query, body) -> (status, payload[, headers]) ------------------------

    def _pr(self, params: dict[str, str], key: str = "pull_number") -> PullState | None:
        return self.pulls.get(int(params[key]))

    def _not_found(self) -> tuple[int, Any]:
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def h_pull(self, params, q, data):
        pr = self._pr(params)
        return (200, self.pull_json(pr)) if pr else self._not_found()

    def h_pulls(self, params, q, data):
        prs = [p for p in self.pulls.values() if q.get("state", "open") in ("all", p.state)]
        if q.get("sort") == "created":  # numbers grow with creation time
            prs.sort(key=lambda p: p.number, reverse=q.get("direction", "desc") == "desc")
        else:
            prs.sort(key=lambda p: p.updated_at, reverse=True)
        items = [self.pull_json(p, listing=True) for p in prs]
        page, extra = self._page(items, q, f"/repos/{self.full_name}/pulls")
        return 200, page, extra

    def h_pull_files(self, params, q, data):
        pr = self._pr(params)
        if not pr:
            return 422, {"message": "Validation Failed", "documentation_url": "x"}
        items = []
        for f in pr.files:
            e = self.d.example("pulls/list-files")[0]
            entry = self.commits[pr.head_sha].get(f["filename"])
            e.update(filename=f["filename"], status=f["status"],
                     sha=git_sha(entry.data if entry else b""),
                     blob_url=self._html(f"/{self.full_name}/blob/{pr.head_sha}/{f['filename']}"),
                     raw_url=self._html(f"/{self.full_name}/raw/{pr.head_sha}/{f['filename']}"),
                     contents_url=self._api(f"/repos/{self.full_name}/contents/{f['filename']}"))
            if "previous_filename" in f:
                e["previous_filename"] = f["previous_filename"]
            else:
                e.pop("previous_filename", None)
            items.append(e)
        page, extra = self._page(items, q, f"/repos/{self.full_name}/pulls/{pr.number}/files")
        return 200, page, extra

    def _tree_at(self, ref: str | None) -> dict[str, Entry] | None:
        ref = ref or self.default_branch
        if ref in self.commits:
            return self.commits[ref]
        if ref in self.branch_files:
            return {p: Entry("file", b) for p, b in self.branch_files[ref].items()}
        return None

    def _content_json(self, path: str, entry: Entry, ref: str) -> dict[str, Any]:
        name = "response-if-content-is-a-" + {"file": "file", "symlink": "symlink",
                                              "submodule": "submodule"}[entry.kind]
        j = self.d.example("repos/get-content", "200", name)
        sha = git_sha(entry.data or entry.target.encode())
        j.update(name=path.rsplit("/", 1)[-1], path=path, sha=sha, size=len(entry.data),
                 url=self._api(f"/repos/{self.full_name}/contents/{path}?ref={ref}"),
                 html_url=self._html(f"/{self.full_name}/blob/{ref}/{path}"),
                 git_url=self._api(f"/repos/{self.full_name}/git/blobs/{sha}"),
                 download_url=self._html(f"/{self.full_name}/raw/{ref}/{path}"))
        j["_links"] = {"self": j["url"], "git": j["git_url"], "html": j["html_url"]}
        if entry.kind == "file":
            j.update(type="file", encoding="base64",
                     content=base64.encodebytes(entry.data).decode())
        elif entry.kind == "symlink":
            j.update(type="symlink", target=entry.target, size=len(entry.target))
        return j

    def h_get_content(self, params, q, data):
        tree = self._tree_at(q.get("ref"))
        path = params["path"]
        if tree is None:
            return 404, {"message": f"No commit found for the ref {q.get('ref')}",
                         "documentation_url": "x"}
        entry = tree.get(path)
        if entry is None:
            children = sorted({p[len(path) + 1:].split("/")[0] for p in tree
                               if p.startswith(path + "/")})
            if children:
                items = []
                for c in children:
                    e = self.d.example("repos/get-content", "200", "response-if-content-is-a-directory")[0]
                    e.update(name=c, path=f"{path}/{c}", type="dir")
                    items.append(e)
                return 200, items
            return self._not_found()
        if entry.kind == "symlink":
            # GitHub answers a link to a regular file with the target file itself
            target = tree.get(entry.target)
            if target is not None and target.kind == "file":
                return 200, self._content_json(entry.target, target, q.get("ref", "main"))
        return 200, self._content_json(path, entry, q.get("ref", "main"))

    def h_put_content(self, params, q, data):
        path, branch = params["path"], data.get("branch", self.default_branch)
        if branch not in self.branches:
            return 404, {"message": f"Branch {branch} not found", "documentation_url": "x"}
        head = self.branches[branch]
        files = self.branch_files[branch]
        if path in files and "sha" not in data:
            return 422, {"message": "Invalid request.\n\n\"sha\" wasn't supplied.",
                         "documentation_url": "x"}
        if self.write_window:
            self.lock.release()  # let other writers in, as GitHub's backend does
            try:
                time.sleep(self.write_window)
            finally:
                self.lock.acquire()
        if self.branches[branch] != head:
            return 409, {"message": f"{branch} is at {self.branches[branch]} but expected {head}",
                         "documentation_url": "x"}
        files[path] = base64.b64decode(data["content"])
        new = git_sha(head + path + str(next(self.ids)))
        self.branches[branch] = new
        j = self.d.example("repos/create-or-update-file-contents", "201")
        j["content"].update(name=path.rsplit("/", 1)[-1], path=path, sha=git_sha(files[path]),
                            size=len(files[path]))
        j["commit"].update(sha=new, message=data.get("message", ""))
        return 201, j

    def h_permission(self, params, q, data):
        login = params["username"]
        perm = self.collaborators.get(login.lower(), "read")
        j = self.d.example("repos/get-collaborator-permission-level")
        role = {"admin": "admin", "maintain": "maintain", "write": "write"}.get(perm, "read")
        j.update(permission="write" if perm == "maintain" else perm, role_name=role)
        j["user"] = dict(self.user(login), role_name=role)
        return 200, j

    def h_list_comments(self, params, q, data):
        n = int(params["issue_number"])
        if n not in self.pulls and n not in self.issues:
            return self._not_found()
        items = [self.comment_json(c) for c in self.comments if c.issue == n]
        page, extra = self._page(items, q, f"/repos/{self.full_name}/issues/{n}/comments")
        return 200, page, extra

    def h_repo_comments(self, params, q, data):
        """Every issue and PR comment of the repository; `since` filters on updated_at, as
        GitHub does; sorted by `sort` (created) in `direction`."""
        items = list(self.comments)
        if "since" in q:
            since = q["since"].replace("Z", "")[:19]
            items = [c for c in items if c.updated_at.replace("Z", "")[:19] >= since]
        key = (lambda c: (c.updated_at, c.id)) if q.get("sort") == "updated" else \
            (lambda c: (c.created_at, c.id))
        items.sort(key=key, reverse=q.get("direction", "asc") == "desc")
        page, extra = self._page([self.comment_json(c) for c in items], q,
                                 f"/repos/{self.full_name}/issues/comments")
        return 200, page, extra

    def h_get_comment(self, params, q, data):
        cid = int(params["comment_id"])
        for c in self.comments:
            if c.id == cid:
                return 200, self.comment_json(c)
        return self._not_found()

    def h_create_comment(self, params, q, data):
        n = int(params["issue_number"])
        if n not in self.pulls and n not in self.issues:
            return self._not_found()
        c = Comment(next(self.ids), n, self.bot_login, "Bot", data["body"], now_iso(), now_iso())
        self.comments.append(c)
        return 201, self.comment_json(c)

    def h_update_comment(self, params, q, data):
        cid = int(params["comment_id"])
        for c in self.comments:
            if c.id == cid:
                c.body, c.updated_at = data["body"], now_iso()
                return 200, self.comment_json(c)
        return self._not_found()

    def h_reaction(self, params, q, data):
        cid = int(params["comment_id"])
        self.reactions.append({"comment_id": cid, "content": data["content"]})
        j = self.d.example("reactions/create-for-issue-comment", "201")
        j.update(id=next(self.ids), content=data["content"],
                 user=self.user(self.bot_login, "Bot"))
        return 201, j

    def h_check_create(self, params, q, data):
        cid = next(self.ids)
        out = data.get("output") or {}
        self.check_runs[cid] = {"name": data["name"], "head_sha": data["head_sha"],
                                "status": data.get("status", "queued"),
                                "conclusion": data.get("conclusion"),
                                "external_id": data.get("external_id"),
                                "details_url": data.get("details_url"),
                                "completed_at": data.get("completed_at"),
                                "output": out, "annotations": list(out.get("annotations", []))}
        if data.get("conclusion"):
            self.check_runs[cid]["status"] = "completed"
        return 201, self.check_json(cid)

    def h_check_update(self, params, q, data):
        cid = int(params["check_run_id"])
        c = self.check_runs.get(cid)
        if c is None:
            return self._not_found()
        out = data.get("output")
        if out:
            c["annotations"].extend(out.get("annotations", []))
            c["output"] = out
        for k in ("status", "conclusion", "details_url", "completed_at"):
            if k in data:
                c[k] = data[k]
        if data.get("conclusion"):
            c["status"] = "completed"
        return 200, self.check_json(cid)

    def h_check_list(self, params, q, data):
        runs = [cid for cid, c in self.check_runs.items() if c["head_sha"] == params["ref"]
                and ("check_name" not in q or c["name"] == q["check_name"])]
        return 200, {"total_count": len(runs), "check_runs": [self.check_json(c) for c in runs]}

    def h_labels(self, params, q, data):
        n = int(params["issue_number"])
        if n not in self.pulls and n not in self.issues:
            return self._not_found()
        return 200, [self.label(x) for x in self.labels_of(n)]

    def h_add_labels(self, params, q, data):
        n = int(params["issue_number"])
        names = data["labels"] if isinstance(data, dict) else data
        names = [x if isinstance(x, str) else x["name"] for x in names]
        have = self.labels_of(n)
        for name in names:
            self.labels_created.add(name)
            if name not in have:
                have.append(name)
        return 200, [self.label(x) for x in have]

    def h_remove_label(self, params, q, data):
        n = int(params["issue_number"])
        have = self.labels_of(n)
        if params["name"] not in have:
            return 404, {"message": "Label does not exist", "documentation_url": "x"}
        have.remove(params["name"])
        return 200, [self.label(x) for x in have]

    def _workflow(self, wid: str) -> str | None:
        for name, num in self.workflows.items():
            if wid in (name, str(num)):
                return name
        return None

    def h_runs(self, params, q, data):
        wf = self._workflow(params["workflow_id"])
        if wf is None:
            return self._not_found()
        runs = [r for r in self.runs if r.workflow == wf]
        if "created" in q and q["created"].startswith(">="):
            since = dt.datetime.strptime(q["created"][2:], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc)
            runs = [r for r in runs if r.created_at >= since]
        if "event" in q:
            runs = [r for r in runs if q["event"] == "workflow_dispatch"]
        runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        items = [self.run_json(r) for r in runs]
        page, extra = self._page(items, q, f"/repos/{self.full_name}/actions/workflows/"
                                           f"{params['workflow_id']}/runs")
        return 200, {"total_count": len(runs), "workflow_runs": page}, extra

    def h_dispatch(self, params, q, data):
        wf = self._workflow(params["workflow_id"])
        if wf is None:
            return self._not_found()
        inputs = data.get("inputs") or {}
        if wf == "bench.yml" and not ({"pr", "sha", "path", "requested_by"} <= set(inputs) <= {
                "pr", "sha", "path", "requested_by", "track", "vs"}):
            return 422, {"message": f"Unexpected inputs provided: {sorted(inputs)}",
                         "documentation_url": "x"}
        run = Run(next(self.ids), wf, self._run_name(wf, inputs), dt.datetime.now(dt.timezone.utc),
                  inputs=dict(inputs))
        if self.on_dispatch is not None:
            self.on_dispatch(run)  # e.g. another request's run landing at the same moment
        self.runs.append(run)
        self.dispatches.append({"workflow": wf, "ref": data["ref"], "inputs": dict(inputs)})
        if data.get("return_run_details"):
            return 200, {"workflow_run_id": run.id,
                         "run_url": self._api(f"/repos/{self.full_name}/actions/runs/{run.id}"),
                         "html_url": self._html(f"/{self.full_name}/actions/runs/{run.id}")}
        return 204, None

    def add_runner(self, name: str, labels: list[str], *, status: str = "online",
                   busy: bool = False) -> dict[str, Any]:
        """A self-hosted runner registered with the repository."""
        with self.lock:
            r = {"name": name, "labels": list(labels), "status": status, "busy": busy}
            self.runners.append(r)
            return r

    def h_runners(self, params, q, data):
        if self.runners_forbidden:  # a token without administration: read
            return 403, {"message": "Resource not accessible by integration",
                         "documentation_url": "https://docs.github.com/rest"}
        j = self.d.example("actions/list-self-hosted-runners-for-repo")
        template = j["runners"][0]
        items = []
        for i, r in enumerate(self.runners):
            item = dict(template, id=1000 + i, name=r["name"], status=r["status"],
                        busy=r["busy"],
                        labels=[{"id": 1 + k, "name": n,
                                 "type": "read-only" if n == "self-hosted" else "custom"}
                                for k, n in enumerate(["self-hosted", *r["labels"]])])
            items.append(item)
        page, extra = self._page(items, q, f"/repos/{self.full_name}/actions/runners")
        return 200, {"total_count": len(items), "runners": page}, extra

    def h_cancel(self, params, q, data):
        rid = int(params["run_id"])
        for r in self.runs:
            if r.id == rid:
                if r.status == "completed":
                    return 409, {"message": "Cannot cancel a workflow run that is completed.",
                                 "documentation_url": "x"}
                r.status, r.conclusion = "completed", "cancelled"
                return 202, {}
        return self._not_found()

    def h_issues(self, params, q, data):
        wanted = [x for x in q.get("labels", "").split(",") if x]
        state = q.get("state", "open")
        items = []
        for n in sorted(self.issues, reverse=True):
            i = self.issues[n]
            if state != "all" and i["state"] != state:
                continue
            if all(w in i["labels"] for w in wanted):
                items.append(self.issue_json(n))
        page, extra = self._page(items, q, f"/repos/{self.full_name}/issues")
        return 200, page, extra

    def h_issue_create(self, params, q, data):
        number = max([0, *self.pulls, *self.issues]) + 1
        labels = [x if isinstance(x, str) else x["name"] for x in data.get("labels", [])]
        self.issues[number] = {"number": number, "title": data["title"],
                               "body": data.get("body", ""), "author": self.bot_login,
                               "labels": labels, "state": "open", "user_type": "Bot"}
        return 201, self.issue_json(number)

    def h_issue_update(self, params, q, data):
        n = int(params["issue_number"])
        if n not in self.issues:
            return self._not_found()
        for k in ("title", "body", "state"):
            if k in data:
                self.issues[n][k] = data[k]
        return 200, self.issue_json(n)

    def h_tree(self, params, q, data):
        files = {t["path"]: t.get("content", "").encode() for t in data["tree"]}
        sha = git_sha(json.dumps(sorted((k, v.decode()) for k, v in files.items())))
        self.commits.setdefault("tree:" + sha, {p: Entry("file", b) for p, b in files.items()})
        j = self.d.example("git/create-tree", "201")
        j.update(sha=sha, url=self._api(f"/repos/{self.full_name}/git/trees/{sha}"))
        return 201, j

    def h_get_tree(self, params, q, data):
        """A branch's files (GitHub takes a branch name for tree_sha), blobs only, as
        `recursive=1` lists them."""
        ref = params["tree_sha"]
        if ref not in self.branch_files:
            return 404, {"message": "Not Found", "documentation_url": "x"}
        j = self.d.example("git/get-tree")
        j.update(sha=self.branches[ref], truncated=False,
                 url=self._api(f"/repos/{self.full_name}/git/trees/{self.branches[ref]}"))
        j["tree"] = [{"path": p, "mode": "100644", "type": "blob", "size": len(b),
                      "sha": git_sha(b),
                      "url": self._api(f"/repos/{self.full_name}/git/blobs/{git_sha(b)}")}
                     for p, b in sorted(self.branch_files[ref].items())]
        return 200, j

    def h_commit(self, params, q, data):
        sha = git_sha(data["tree"] + data["message"] + str(next(self.ids)))
        self.commits["commit:" + sha] = self.commits.get("tree:" + data["tree"], {})
        j = self.d.example("git/create-commit", "201")
        j.update(sha=sha, message=data["message"], parents=[],
                 url=self._api(f"/repos/{self.full_name}/git/commits/{sha}"),
                 html_url=self._html(f"/{self.full_name}/commit/{sha}"))
        j["tree"]["sha"] = data["tree"]
        return 201, j

    def h_ref(self, params, q, data):
        ref, sha = data["ref"], data["sha"]
        branch = ref.removeprefix("refs/heads/")
        if branch in self.branches:
            return 422, {"message": "Reference already exists", "documentation_url": "x"}
        self.branches[branch] = sha
        self.branch_files[branch] = {p: e.data for p, e in
                                     self.commits.get("commit:" + sha, {}).items()}
        j = self.d.example("git/create-ref", "201")
        j.update(ref=ref, url=self._api(f"/repos/{self.full_name}/git/{ref}"))
        j["object"].update(sha=sha, type="commit")
        return 201, j
