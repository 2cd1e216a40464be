"""Publishing a knowledge change safely: before an edit goes live, every labeled question
(`settings.questions_path`) the change can reach is decided as the assistant would decide it
as the first message of a conversation, on the live knowledge base and on an in-memory preview
with the change applied, with the same calibration, threshold and router both times.

A change is blocked only for questions it breaks itself: answered correctly before, and now
won by a changed article, lost by the changed article that answered them, or newly contested
by it. A question whose right article still ranks first but whose confidence the change only
nudged across the threshold is *borderline*: shown apart, never blocking. An owner may publish
a blocked change anyway with a written reason (kept in the article's version and the audit
log). Questions the change newly answers with an article other than their label (often:
labeled "nothing answers this" before the article existed) are reported, not refused.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.dialogue.services import Services
from bot.evaluation import NoRequests, decide
from bot.redaction import redact_text
from bot.settings import Settings
from flows.intents import Decision
from flows.policy import Policy
from flows.router import Route, Router
from flows.types import Decided
from retrieval.articles import Article
from retrieval.embedding import Vectors
from retrieval.evaluation import LabeledQuery, QueryFileError, load_queries
from retrieval.knowledge import KnowledgeBase
from retrieval.store import Change, ImportReport

log = logging.getLogger(__name__)

OUTCOMES = {
    Decision.HANDOFF: "hands off to a person",
    Decision.CLARIFY: "asks the employee to choose or rephrase",
    Decision.REPLY: "replies without an article",
}


# A fall in confidence smaller than this, with the right article still ranked first, is a
# nudge of shared statistics (word rarity, neighbourhoods, the router's retraining), not the
# change answering the question differently.
NUDGE = 0.05
MAX_ROUTES = 20000  # remembered routes of labeled and tried questions


@dataclass(frozen=True)
class Failure:
    """One labeled question whose outcome the change moves, before -> after."""

    query: str
    expected: tuple[str, ...]  # the labeled article ids (empty: nothing should answer)
    before: str
    after: str
    before_confidence: float | None = None
    after_confidence: float | None = None
    threshold: float | None = None
    involved: tuple[str, ...] = ()  # the articles that decide it, before and after
    advice: str = ""


@dataclass(frozen=True)
class Check:
    checked: int
    correct_before: int
    correct_after: int
    failures: tuple[Failure, ...]  # regressions the change itself causes: these block
    new_answers: tuple[Failure, ...] = ()  # answered now, from an article not in the label
    note: str = ""  # e.g. why no labeled questions were checked
    borderline: tuple[Failure, ...] = ()  # flips on the threshold the change only nudged

    @property
    def ok(self) -> bool:
        return not self.failures


def _correct(query: LabeledQuery, decided: Decided) -> bool:
    return decided.decision is Decision.ANSWER and decided.article_id in query.relevant_ids


def _wrong(query: LabeledQuery, decided: Decided) -> bool:
    return decided.decision is Decision.ANSWER and decided.article_id not in query.relevant_ids


def _describe(decided: Decided) -> str:
    if decided.decision is Decision.ANSWER:
        return f"answers from {decided.article_id}"
    return OUTCOMES.get(decided.decision, decided.decision.value)


def _blame(
    query: LabeledQuery, before: Decided, after: Decided, changed: frozenset[str]
) -> str | None:
    """Why the change itself makes this question fail (advice for the owner), or None when
    the flip is only a nudge on the threshold."""
    labeled = ", ".join(query.relevant_ids) or "no article"
    top = after.article_id
    if top in changed and top not in query.relevant_ids:
        return (
            f"{top} now wins this question, labeled for {labeled}. Add the question as a "
            f"phrasing of {labeled}, or make {top}'s wording more specific."
        )
    still_first = top in query.relevant_ids
    drop = (before.confidence or 0.0) - (after.confidence or 0.0)
    if still_first and drop < NUDGE:
        return None
    if before.article_id in changed:
        return (
            f"The edit of {before.article_id} no longer answers this question. Keep a "
            "phrasing close to it in the article, or undo the part of the edit that removed it."
        )
    rivals = [c for c, _ in after.candidates[:2] if c in changed]
    if rivals and drop >= NUDGE:
        return (
            f"{rivals[0]} now competes with {labeled} for this question. Add the question as a "
            f"phrasing of {labeled}, or make {rivals[0]}'s wording more specific."
        )
    return None


def _row(query: LabeledQuery, before: Decided, after: Decided, advice: str = "") -> Failure:
    involved = tuple(
        dict.fromkeys(a for a in (before.article_id, after.article_id) if a is not None)
    )
    return Failure(
        query.query,
        query.relevant_ids,
        _describe(before),
        _describe(after),
        before.confidence,
        after.confidence,
        after.threshold if after.threshold is not None else before.threshold,
        involved,
        advice,
    )


def compare(
    queries: Sequence[LabeledQuery],
    before: Sequence[Decided],
    after: Sequence[Decided],
    changed: Iterable[str] = (),
) -> Check:
    """Failures: answered correctly before and not after, because of the changed articles
    (they win the question, lost it, or now compete for it). Borderline: such flips the
    change only nudged across the threshold; they are shown, not held against it. New
    answers: answered after from an article the label does not name, and not before."""
    ids = frozenset(changed)
    failures, borderline, new_answers = [], [], []
    for q, b, a in zip(queries, before, after, strict=True):
        if _correct(q, b) and not _correct(q, a):
            advice = _blame(q, b, a, ids)
            if advice is None:
                note = (
                    "Borderline: the right article still ranks first; its confidence moved "
                    "across the threshold. This does not block publishing."
                )
                borderline.append(_row(q, b, a, note))
            else:
                failures.append(_row(q, b, a, advice))
        elif _wrong(q, a) and _describe(a) != _describe(b):
            new_answers.append(_row(q, b, a))
    return Check(
        checked=len(queries),
        correct_before=sum(_correct(q, d) for q, d in zip(queries, before, strict=True)),
        correct_after=sum(_correct(q, d) for q, d in zip(queries, after, strict=True)),
        failures=tuple(failures),
        new_answers=tuple(new_answers),
        borderline=tuple(borderline),
    )


def _frozen(router: Router, revision: int, routes: dict[str, Route]) -> Router:
    """The live router as it is now, for a preview: it does not retrain (the classifier is
    shared, read-only), so the check compares the change alone, routing held fixed. Its
    routes are remembered in `routes` (valid while the live router has not retrained)."""
    frozen = copy.copy(router)
    frozen.revision = revision
    frozen._learning = threading.Lock()  # a copy must not share the live lock

    def route(text: str, vector: Vectors | None = None) -> Route:
        found = routes.get(text)
        if found is None:
            if len(routes) > MAX_ROUTES:
                routes.clear()
            found = routes[text] = router.route(text, vector)
        return found

    frozen.route = route  # type: ignore[method-assign]
    return frozen


def reachable(
    kb: KnowledgeBase, changed: Sequence[Article], vectors: Vectors, before: Sequence[Decided]
) -> list[int]:
    """The labeled questions a change can move: those whose candidates include a changed
    article, and those where a changed article could reach the top two (its best possible
    score, with the whole BM25 bonus and no crowding, within `REACH` of the runner-up).
    Every other question keeps its outcome: the change can only nudge it."""
    ids = {a.id for a in changed}
    touched = {
        i
        for i, d in enumerate(before)
        if d.article_id in ids or any(c in ids for c, _ in d.candidates)
    }
    answerable = [a for a in changed if a.is_answerable(kb.clock())]
    if answerable and len(vectors):
        bound = kb.best_possible(answerable, vectors)  # (questions,)
        for i, d in enumerate(before):
            scores = [score for _, score in d.candidates]
            second = scores[1] if len(scores) > 1 else (scores[0] if scores else -1.0)
            if bound[i] >= second - REACH:
                touched.add(i)
    return sorted(touched)


REACH = 0.1  # how far the other articles' scores may drift with the change (BM25 rarity)


class Publisher:
    """Checks and applies knowledge changes for the console (blocking: run in a thread).

    The labeled questions are encoded once per version of their file, and decided on the live
    knowledge base once per revision (carried forward across the console's own changes). A
    change is previewed in memory (only changed articles are embedded) and only the questions
    it can reach are decided again."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self._lock = threading.Lock()
        self._baseline: tuple[tuple[object, ...], list[Decided]] | None = None
        self._vectors: tuple[tuple[object, ...], Vectors] | None = None
        self._routes: tuple[int | None, dict[str, Route]] = (None, {})

    def _queries(self) -> tuple[list[LabeledQuery], str]:
        path: Path = self.settings.questions_path
        if not path.exists():
            return [], f"no labeled question set at {path}; nothing was checked"
        try:
            return load_queries(path), ""
        except QueryFileError as exc:
            log.warning("labeled questions unusable: %s", exc.__class__.__name__)
            return [], f"the labeled question set at {path} cannot be read; nothing was checked"

    def policy_for(self, kb: KnowledgeBase) -> Policy:
        """A policy over `kb` (the live one or a preview) with the live router, fixed."""
        live = self.services.policy
        live.learn()
        if self._routes[0] != live.router.revision:
            self._routes = (live.router.revision, {})
        return Policy(_frozen(live.router, kb.revision, self._routes[1]), kb, NoRequests())

    def _key(self, questions: tuple[object, ...]) -> tuple[object, ...]:
        live = self.services.knowledge
        return (live.revision, *questions, live.threshold)

    def _prepare(self) -> tuple[list[LabeledQuery], Vectors, list[Decided], tuple[object, ...]]:
        queries, _ = self._queries()
        live = self.services.knowledge
        live.refresh()
        path = self.settings.questions_path
        questions = (str(path), path.stat().st_mtime_ns, live.embedder.name)
        # The labeled questions change far less often than articles: encode them once.
        if self._vectors is None or self._vectors[0] != questions:
            encoded = live.encode_query([redact_text(q.query) for q in queries])
            self._vectors = (questions, encoded)
        vectors = self._vectors[1]
        key = self._key(questions)
        if self._baseline is None or self._baseline[0] != key:
            self._baseline = (key, decide(self.policy_for(live), queries, vectors))
        return queries, vectors, self._baseline[1], questions

    def _after(
        self, changed: Sequence[Article]
    ) -> tuple[list[LabeledQuery], list[Decided], list[Decided], tuple[object, ...]]:
        queries, vectors, before, questions = self._prepare()
        preview = self.services.knowledge.preview(changed)
        touched = reachable(preview, changed, vectors, before)
        after = list(before)
        if touched:
            policy = self.policy_for(preview)
            for i, d in zip(
                touched,
                decide(policy, [queries[i] for i in touched], vectors[touched]),
                strict=True,
            ):
                after[i] = d
        return queries, before, after, questions

    def check(self, changed: Sequence[Article]) -> Check:
        queries, note = self._queries()
        if not queries:
            return Check(0, 0, 0, (), note=note)
        with self._lock:
            queries, before, after, _ = self._after(changed)
        return compare(queries, before, after, (a.id for a in changed))

    def publish(
        self, changed: Sequence[Article], change: Change, override: str = ""
    ) -> tuple[Check, ImportReport | None]:
        """Apply the change when the check passes, or when the owner overrides it with a
        written reason; the assistant uses it at once."""
        queries, note = self._queries()
        if not queries:
            return Check(0, 0, 0, (), note=note), self.apply_unchecked(changed, change)
        with self._lock:
            queries, before, after, questions = self._after(changed)
            result = compare(queries, before, after, (a.id for a in changed))
            if not result.ok and not override:
                return result, None
            if not result.ok:
                change = replace(change, reason=f"{change.reason} (override: {override})".strip())
            report = self.services.knowledge.import_articles(list(changed), change=change)
            # The outcome of this change is the baseline of the next one.
            self._baseline = (self._key(questions), after)
        return result, report

    def apply_unchecked(self, changed: Sequence[Article], change: Change) -> ImportReport:
        """Changes that need no check: saving a draft (drafts never answer) and retiring (which
        stops an article answering on purpose)."""
        return self.services.knowledge.import_articles(list(changed), change=change)
