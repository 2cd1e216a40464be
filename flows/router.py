"""Intent routing: rules first (`routing.yaml`), then a classifier trained on labeled
exemplars (`exemplars.jsonl`). Both are data; this module only applies them."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from flows.cache import TrainingCache
from flows.classifier import IntentClassifier, load_exemplars
from flows.intents import Intent
from retrieval.embedding import Embedder, Vector

ROUTING_FILE = Path(__file__).with_name("routing.yaml")

# Words whose misspellings we repair before matching ("tlak to a persn" -> "talk to a person").
# One edit (or one swapped pair of letters) away, same first letter.
KEYWORDS = (
    "human", "person", "agent", "someone", "somebody", "talk", "speak", "technician", "operator",
    "connect", "representative", "helpdesk", "please", "password", "phishing", "stolen", "hacked",
)  # fmt: skip


@dataclass(frozen=True)
class Route:
    intent: Intent
    category: str | None = None  # risky category or smalltalk kind
    via: str = "default"  # "rule", "classifier", "button" or "default"
    probability: float = 0.0  # the classifier's, when it decided
    off_topic: float = 0.0  # the classifier's probability that this is not an IT question


@dataclass(frozen=True)
class _Rule:
    intent: Intent
    category: str | None
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns) and not any(
            p.search(text) for p in self.unless
        )


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=8192)
def _repair_word(word: str) -> str:
    if len(word) < 3 or word in KEYWORDS:
        return word
    for keyword in KEYWORDS:
        if word[0] != keyword[0] or abs(len(word) - len(keyword)) > 1 or word == keyword + "s":
            continue
        if _osa_distance(word, keyword, 1) <= 1:
            return keyword
    return word


def normalize(text: str) -> str:
    """Lower-case, straight quotes, single spaces, key words with their typos repaired."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"[a-z]+", lambda m: _repair_word(m.group(0)), text)
    text = _CONTRACTIONS.sub(lambda m: m.group(1) + "'" + m.group(2), text)
    # "human resources" is a department, never a request for a human
    return re.sub(r"\bhuman resources?\b", "hr", text)


# "didnt", "cant", "wont" as typed on phones -> "didn't", "can't", "won't"
_CONTRACTIONS = re.compile(
    r"\b(didn|don|doesn|isn|wasn|aren|weren|haven|hasn|couldn|wouldn|shouldn|can|won)(t)\b"
)

_GREETING_PREFIX = re.compile(
    r"^(hi|hello|hey|hallo|hiya|good (morning|afternoon|evening))"
    r"( there| deskbot| team| all)?[ ,!.:-]+(?=\w)"
)


def strip_greeting(text: str) -> str:
    """'hi, my vpn is broken' -> 'my vpn is broken' (a greeting does not make it small talk)."""
    return _GREETING_PREFIX.sub("", text, count=1)


@dataclass(frozen=True)
class Thresholds:
    """How probable the classifier must find an intent. Risky is deliberately low: a risky
    request answered by the bot costs far more than a question handed to a person. Between
    `risky` and `risky_certain` a confident validated answer may still be given (short problem
    reports such as "the room console is frozen" look risky to the classifier); from
    `risky_certain` up, never."""

    risky: float = 0.3
    risky_certain: float = 0.7
    human: float = 0.5
    other: float = 0.5
    # An unconfident question at least this likely to be off-topic is handed off at once:
    # asking to rephrase a travel-booking question only delays the person who can help.
    maybe_off_topic: float = 0.3


class Router:
    def __init__(
        self,
        data: dict[str, Any],
        classifier: IntentClassifier | None = None,
        thresholds: Thresholds = Thresholds(),
    ) -> None:
        self._rules = _compile_rules(data)
        self.classifier = classifier
        self.thresholds = thresholds
        self.revision: int | None = None  # of the knowledge base the classifier learned from
        self._learning = threading.Lock()

    @classmethod
    def from_file(
        cls,
        embedder: Embedder | None = None,
        path: Path = ROUTING_FILE,
        *,
        cache: TrainingCache | None = None,
    ) -> Router:
        classifier = (
            IntentClassifier(load_exemplars(), embedder, cache=cache)
            if embedder is not None
            else None
        )
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")), classifier)

    def warm_up(self) -> None:
        """Train the classifier (embeds the exemplars once)."""
        if self.classifier is not None and not self.classifier.ready:
            self.classifier.fit()

    def learn(self, faq_vectors: Vector, revision: int) -> None:
        """Retrain with the current knowledge base's questions as FAQ examples."""
        with self._learning:
            if self.classifier is not None and self.revision != revision:
                self.classifier.fit(faq_vectors)
            self.revision = revision

    def by_rule(self, text: str) -> Route | None:
        """The first rule that matches the message, or the message without its greeting."""
        normalized = normalize(text)
        for candidate in dict.fromkeys((normalized, strip_greeting(normalized))):
            for rule in self._rules:
                if rule.matches(candidate):
                    return Route(rule.intent, rule.category, "rule")
        return None

    def route(self, text: str, vector: Vector | None = None) -> Route:
        """A rule if one matches, else the classifier when it is sure enough, else FAQ."""
        ruled = self.by_rule(text)
        if ruled is not None:
            return ruled
        if vector is None or self.classifier is None:
            return Route(Intent.FAQ)
        p = self.classifier.predict(vector)
        t = self.thresholds
        off = p[Intent.UNKNOWN]
        if p[Intent.RISKY] >= t.risky:
            category = p.category_for(Intent.RISKY)
            return Route(Intent.RISKY, category, "classifier", p[Intent.RISKY], off)
        if p[Intent.HUMAN] >= t.human:
            return Route(Intent.HUMAN, None, "classifier", p[Intent.HUMAN], off)
        best = max(p.probabilities, key=p.probabilities.__getitem__)
        if best not in (Intent.FAQ, Intent.HUMAN, Intent.RISKY) and p[best] >= t.other:
            # UNKNOWN: not an IT question at all (weather, payroll, the canteen...)
            return Route(best, p.category_for(best), "classifier", p[best], off)
        return Route(Intent.FAQ, None, "default", p[Intent.FAQ], off)


def _intent_of(section: str) -> Intent:
    return Intent.SMALLTALK if section == "identity" else Intent(section)


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _compile_rules(data: dict[str, Any]) -> tuple[_Rule, ...]:
    """Rules in file order; sections with categories (risky, smalltalk) keep theirs."""
    rules: list[_Rule] = []
    for section, body in data.items():
        if "patterns" in body:
            category = "identity" if section == "identity" else None
            rules.append(
                _Rule(
                    _intent_of(section),
                    category,
                    _compile(body["patterns"]),
                    _compile(body.get("unless", [])),
                )
            )
        else:
            for category, sub in body.items():
                rules.append(
                    _Rule(
                        _intent_of(section),
                        category,
                        _compile(sub.get("patterns", [])),
                        _compile(sub.get("unless", [])),
                    )
                )
    return tuple(rules)
