"""The "tried" pages: every configuration with its outcome, static indexes by tag and by engine
argument, negative results, identical configurations, the JSON document."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from arena.challenge import load_challenge
from arena.store import ResultsStore
from leaderboard import api, site
from tests.support import sample

from conftest import HOSTILE, at  # noqa: E402

SPEC = {"method": "ngram", "num_speculative_tokens": 0, "prompt_lookup_max": 4,
        "prompt_lookup_min": 2}


def spec(k):
    return {"speculative_config": dict(SPEC, num_speculative_tokens=k)}


def negative_yaml(name, *, parent, args, what, outcome="slower"):
    text = sample.submission_yaml(name, description=f"{name}: tried, not run", parent=parent,
                                  tags=["speculative-decoding"], args=args)
    return text + ("tried:\n  outcome: " + outcome + "\n  what_happened: " + json.dumps(what)
                   + "\n  tps: 180.5\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("tried") / "ch"
    ch = sample.challenge_folder(root)
    hw = load_challenge(ch).hardware
    store = ResultsStore(root / "store")
    w = lambda login, name, **kw: sample.write_submission(root, login, name, **kw)  # noqa: E731
    w("arena-maintainers", "plain", description="plain", tags=["baseline"])
    for i, k in enumerate((2, 4, 6, 8)):
        w("alice", f"ngram-k{k}", description=f"k={k}", parent="arena-maintainers/plain",
          tags=["speculative-decoding"], args=spec(k))
    w("bob", "ngram-k4-again", description="the same as alice's", tags=["speculative-decoding"],
      parent="arena-maintainers/plain", args=spec(4))
    w("carol", "fp8", description="fp8 kv", tags=["kv-cache"], args={"kv_cache_dtype": "fp8"})
    w("carol", "waiting", description="not run yet", args={"max_model_len": 2048})
    (root / "submissions" / "dave").mkdir()
    (root / "submissions" / "dave" / "ngram-k12.yaml").write_text(negative_yaml(
        "ngram-k12", parent="alice/ngram-k8", args=spec(12),
        what="Acceptance fell to 0.2; slower than k=8 on my own GPU. " + HOSTILE))

    def result(sid, day, args, **kw):
        kw.setdefault("private", (200.0 + day, 201.0 + day, 202.0 + day))
        return sample.make_result(sid, started_at=at(day), hardware=hw,
                                  cfg=sample.config(args=args), **kw)

    store.append_result(result("arena-maintainers/plain", 1, {}))
    store.append_result(result("alice/ngram-k2", 2, spec(2)))
    store.append_result(result("alice/ngram-k4", 3, spec(4)))
    store.append_result(result("alice/ngram-k6", 4, spec(6), verdict="invalid",
                               reasons=[("near_ties", "too many non-top-1 tokens")]))
    store.append_result(result("alice/ngram-k8", 5, spec(8), verdict="error", private=None,
                               public=None, ppl=None,
                               reasons=[("engine", "the engine exited during start-up")]))
    store.append_result(result("bob/ngram-k4-again", 6, spec(4)))
    store.append_result(result("carol/fp8", 7, {"kv_cache_dtype": "fp8"}))
    store.append_verdict(submission="carol/fp8", action="withdraw", by="carol",
                         reason="superseded", at=at(8))
    out = root.parent / "site"
    site.build_site(load_challenge(ch), store.root, out, jobs=1)
    return out


def rows_of(html):
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<tr id="r\d+"[^>]*>\s*<td class="wide" data-sort="([^"]+)".*?</tr>', html, re.S)}


def test_every_configuration_is_listed_with_its_outcome(built):
    html = (built / "tried.html").read_text()
    rows = rows_of(html)
    assert set(rows) == {"arena-maintainers/plain", "alice/ngram-k2", "alice/ngram-k4",
                         "alice/ngram-k6", "alice/ngram-k8", "bob/ngram-k4-again",
                         "carol/fp8", "carol/waiting", "dave/ngram-k12"}
    assert "tried-verified" in rows["alice/ngram-k2"]
    assert "tried-invalid" in rows["alice/ngram-k6"] and "near_ties" in rows["alice/ngram-k6"]
    assert "tried-error" in rows["alice/ngram-k8"] and "start-up" in rows["alice/ngram-k8"]
    assert "tried-withdrawn" in rows["carol/fp8"] and "superseded" in rows["carol/fp8"]
    assert "no run yet" in rows["carol/waiting"]
    neg = rows["dave/ngram-k12"]
    assert "negative result" in neg and "slower" in neg and "Acceptance fell to 0.2" in neg
    # A figure nobody measured is never shown as if it were one (a negative result cannot
    # pose as a fast configuration).
    assert "180.5" in neg and "unverified" in neg
    assert "<script>window" not in html and "&lt;script&gt;" in html


def test_identical_configurations_are_named_under_each_other(built):
    rows = rows_of((built / "tried.html").read_text())
    assert "same configuration as" in rows["bob/ngram-k4-again"]
    assert "alice/ngram-k4" in rows["bob/ngram-k4-again"]
    assert "same configuration as" in rows["alice/ngram-k4"]
    assert "same configuration as" not in rows["alice/ngram-k2"]


def test_static_indexes_by_tag_and_by_argument_need_no_javascript(built):
    home = (built / "tried.html").read_text()
    assert 'href="tried/tag-kv-cache.html"' in home
    assert 'href="tried/arg-speculative_config.num_speculative_tokens.html"' in home
    tag = rows_of((built / "tried" / "tag-kv-cache.html").read_text())
    assert set(tag) == {"carol/fp8"}
    page = (built / "tried" / "arg-speculative_config.num_speculative_tokens.html").read_text()
    order = list(rows_of(page))
    # Sorted by value: 2, 4, 4, 6, 8, 12. "6 or more" is everything from 6's row down.
    assert order == ["alice/ngram-k2", "alice/ngram-k4", "bob/ngram-k4-again", "alice/ngram-k6",
                     "alice/ngram-k8", "dave/ngram-k12"]
    six = re.search(r'<a href="\.\./(tried/arg-[^"#]+\.html)#(r\d+)"><code>6</code></a>', page)
    assert six, "the value index links 6"
    assert f'<tr id="{six.group(2)}"' in page
    at_six = page.index(f'<tr id="{six.group(2)}"')
    assert set(rows_of(page[at_six:])) == {"alice/ngram-k6", "alice/ngram-k8", "dave/ngram-k12"}


def test_the_tried_document_follows_its_schema(built):
    doc = json.loads((built / "api" / "tried.json").read_text())
    jsonschema.validate(doc, api.TRIED_SCHEMA)
    assert doc["format"] == "arena.tried/1"
    by = {c["submission"]: c for c in doc["configurations"]}
    assert by["dave/ngram-k12"]["outcome"] == "negative"
    assert by["dave/ngram-k12"]["negative_outcome"] == "slower"
    assert by["dave/ngram-k12"]["args"]["speculative_config.num_speculative_tokens"] == 12
    assert by["alice/ngram-k6"]["detail"] == "near_ties"
    assert by["bob/ngram-k4-again"]["same_as"] == ["alice/ngram-k4"]
    schema = json.loads((built / "api" / "schema" / "tried.json").read_text())
    assert schema == api.TRIED_SCHEMA


def test_negative_results_appear_in_the_lineage_tree(built):
    tree = (built / "tree.html").read_text()
    item = re.search(r'<li[^>]*id="dave--ngram-k12".*?</li>', tree, re.S).group(0)
    assert "negative result" in item and "slower: Acceptance fell" in item
    parent = tree.index('id="alice--ngram-k8"')
    assert parent < tree.index('id="dave--ngram-k12"')
