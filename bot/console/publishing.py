"""Publishing a knowledge change safely: before an edit goes live, every labeled question
(`settings.questions_path`) is decided twice, as the assistant would decide it as the first
message of a conversation: on the live knowledge base and on a scratch copy with the change
applied. A change that makes a question fail that was answered correctly before is refused,
and the questions are named. Questions the change newly answers with an article other than
their label (often: labeled "nothing answers this" before the article existed) are reported,
not refused: the labels may be what is out of date.

The scratch copy lives in an in-memory database; article vectors come from the shared cache,
so only the changed article is embedded. The check has its own router: the router learns the
knowledge base's questions, and the live one must keep learning from the live knowledge base.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from bot import wiring
from bot.dialogue.services import Services
from bot.evaluation import NoRequests, decide
from bot.redaction import redact_text
from bot.settings import Settings
from flows.intents import Decision
from flows.policy import Policy
from flows.router import Router
from flows.types import Decided
from retrieval.articles import Article
from retrieval.embedding import Vectors
from retrieval.evaluation import LabeledQuery, QueryFileError, load_queries
from retrieval.knowledge import KnowledgeBase
from retrieval.store import ImportReport
from retrieval.store import metadata as knowledge_metadata

log = logging.getLogger(__name__)

OUTCOMES = {
    Decision.HANDOFF: "hands off to a person",
    Decision.CLARIFY: "asks the employee to choose or rephrase",
    Decision.REPLY: "replies without an article",
}


@dataclass(frozen=True)
class Failure:
    query: str
    expected: tuple[str, ...]  # the labeled article ids (empty: nothing should answer)
    before: str
    after: str


@dataclass(frozen=True)
class Check:
    checked: int
    correct_before: int
    correct_after: int
    failures: tuple[Failure, ...]
    new_answers: tuple[Failure, ...] = ()  # answered now, from an article not in the label
    note: str = ""  # e.g. why no labeled questions were checked

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


def compare(
    queries: Sequence[LabeledQuery], before: Sequence[Decided], after: Sequence[Decided]
) -> Check:
    """Failures: answered correctly before and not after. New answers: answered after from
    an article the label does not name, and not answered that way before."""
    failures, new_answers = [], []
    for q, b, a in zip(queries, before, after, strict=True):
        row = Failure(q.query, q.relevant_ids, _describe(b), _describe(a))
        if _correct(q, b) and not _correct(q, a):
            failures.append(row)
        elif _wrong(q, a) and _describe(a) != _describe(b):
            new_answers.append(row)
    return Check(
        checked=len(queries),
        correct_before=sum(_correct(q, d) for q, d in zip(queries, before, strict=True)),
        correct_after=sum(_correct(q, d) for q, d in zip(queries, after, strict=True)),
        failures=tuple(failures),
        new_answers=tuple(new_answers),
    )


class Publisher:
    """Checks and applies knowledge changes for the console (blocking: run in a thread)."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self._lock = threading.Lock()
        self._baseline: tuple[tuple[object, ...], list[Decided]] | None = None
        self._vectors: tuple[tuple[object, ...], Vectors] | None = None
        self._router: Router | None = None

    def _queries(self) -> tuple[list[LabeledQuery], str]:
        path: Path = self.settings.questions_path
        if not path.exists():
            return [], f"no labeled question set at {path}; nothing was checked"
        try:
            return load_queries(path), ""
        except QueryFileError as exc:
            log.warning("labeled questions unusable: %s", exc.__class__.__name__)
            return [], f"the labeled question set at {path} cannot be read; nothing was checked"

    def _live_policy(self) -> Policy:
        """The live router on the live knowledge base: exactly what employees get now."""
        return Policy(self.services.policy.router, self.services.knowledge, NoRequests())

    def _scratch_policy(self, kb: KnowledgeBase) -> Policy:
        """A policy over `kb` whose own router has learned exactly `kb`'s questions."""
        if self._router is None:
            self._router = Router.from_file(self.services.knowledge.embedder)
        self._router.revision = None  # two stores may share a revision number
        policy = Policy(self._router, kb, NoRequests())
        policy.learn()
        return policy

    def _scratch(self, changed: Sequence[Article]) -> tuple[KnowledgeBase, Engine]:
        live = self.services.knowledge
        engine = create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
        )
        knowledge_metadata.create_all(engine)
        kb = wiring.knowledge_base(
            self.settings, live.store.engine, live.embedder, store_engine=engine
        )
        articles = {a.id: a for a in live.articles()}
        articles.update({a.id: a for a in changed})
        kb.import_articles(list(articles.values()))
        kb.use_calibration(live.calibration)
        return kb, engine

    def check(self, changed: Sequence[Article]) -> Check:
        queries, note = self._queries()
        if not queries:
            return Check(0, 0, 0, (), note=note)
        live = self.services.knowledge
        live.refresh()
        path = self.settings.questions_path
        questions = (str(path), path.stat().st_mtime_ns, live.embedder.name)
        with self._lock:
            # The labeled questions change far less often than articles: encode them once.
            if self._vectors is None or self._vectors[0] != questions:
                encoded = live.encode_query([redact_text(q.query) for q in queries])
                self._vectors = (questions, encoded)
            vectors = self._vectors[1]
            key = (live.store.revision(), *questions, live.threshold)
            if self._baseline is None or self._baseline[0] != key:
                self._baseline = (key, decide(self._live_policy(), queries, vectors))
            before = self._baseline[1]
            kb, engine = self._scratch(changed)
            try:
                after = decide(self._scratch_policy(kb), queries, vectors)
            finally:
                engine.dispose()
        return compare(queries, before, after)

    def publish(self, changed: Sequence[Article]) -> tuple[Check, ImportReport | None]:
        """Apply the change when the check passes; the assistant uses it at once."""
        result = self.check(changed)
        if not result.ok:
            return result, None
        return result, self.services.knowledge.import_articles(list(changed))

    def apply_unchecked(self, changed: Sequence[Article]) -> ImportReport:
        """Changes that need no check: saving a draft (drafts never answer) and retiring (which
        stops an article answering on purpose)."""
        return self.services.knowledge.import_articles(list(changed))
