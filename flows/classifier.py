"""The intent classifier for messages no rule matches: logistic regression over sentence
embeddings, trained at start-up on the labeled exemplars in `exemplars.jsonl`.

Editing the exemplars and restarting is all it takes to teach it; the embeddings are cached
by the caller's embedder, so a restart does not re-embed them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from flows.intents import Intent
from retrieval.embedding import Embedder, Vector

EXEMPLARS_FILE = Path(__file__).with_name("exemplars.jsonl")


@dataclass(frozen=True)
class Exemplar:
    text: str
    intent: Intent
    category: str | None = None


@dataclass(frozen=True)
class Prediction:
    probabilities: dict[Intent, float]
    categories: dict[Intent, str]  # per intent: the category of its nearest exemplar

    def __getitem__(self, intent: Intent) -> float:
        return self.probabilities.get(intent, 0.0)

    def category_for(self, intent: Intent) -> str | None:
        return self.categories.get(intent)


def load_exemplars(path: Path = EXEMPLARS_FILE) -> list[Exemplar]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(Exemplar(row["text"], Intent(row["intent"]), row.get("category")))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: bad exemplar ({exc})") from None
    return out


class IntentClassifier:
    def __init__(self, exemplars: Sequence[Exemplar], embedder: Embedder, *, strength: float = 4.0):
        self._exemplars = tuple(exemplars)
        self._embedder = embedder
        self._strength = strength
        self._weights: npt.NDArray[np.float64] | None = None
        self._bias: npt.NDArray[np.float64] | None = None
        self._classes: tuple[Intent, ...] = ()
        self._vectors: Vector | None = None
        self._by_intent: dict[Intent, tuple[npt.NDArray[np.intp], list[str]]] | None = None

    def fit(self, faq_vectors: Vector | None = None) -> None:
        """Train on the exemplars plus, as FAQ examples, the knowledge base's own titles and
        alternative phrasings (`faq_vectors`): what the knowledge base answers is an FAQ, and
        the classifier learns the vocabulary of this knowledge base."""
        from sklearn.linear_model import LogisticRegression

        if self._vectors is None:
            self._vectors = self._embedder.encode([e.text for e in self._exemplars])
        x = self._vectors
        labels = [e.intent.value for e in self._exemplars]
        if faq_vectors is not None and len(faq_vectors):
            x = np.vstack([x, faq_vectors])
            labels += [Intent.FAQ.value] * len(faq_vectors)
        model = LogisticRegression(C=self._strength, max_iter=3000)
        model.fit(x, labels)
        self._weights = np.asarray(model.coef_, dtype=np.float64)
        self._bias = np.asarray(model.intercept_, dtype=np.float64)
        self._classes = tuple(Intent(c) for c in model.classes_)

    @property
    def ready(self) -> bool:
        return self._weights is not None

    def predict(self, vector: Vector) -> Prediction:
        if self._weights is None or self._bias is None or self._vectors is None:
            self.fit()
        assert self._weights is not None and self._bias is not None and self._vectors is not None
        logits = self._weights @ vector + self._bias
        logits -= logits.max()
        probs = np.exp(logits) / np.exp(logits).sum()
        probabilities = {c: float(p) for c, p in zip(self._classes, probs, strict=True)}
        return Prediction(probabilities, self._nearest_categories(vector))

    def _nearest_categories(self, vector: Vector) -> dict[Intent, str]:
        """Risky requests need a category (it becomes the ticket's); take the nearest
        exemplar's."""
        assert self._vectors is not None
        sims = self._vectors @ vector
        return {
            intent: categories[int(np.argmax(sims[rows]))]
            for intent, (rows, categories) in self._categorized().items()
        }

    def _categorized(self) -> dict[Intent, tuple[npt.NDArray[np.intp], list[str]]]:
        """Per intent: the rows of its exemplars that carry a category, and those categories."""
        if self._by_intent is None:
            found: dict[Intent, tuple[list[int], list[str]]] = {}
            for i, e in enumerate(self._exemplars):
                if e.category:
                    rows, categories = found.setdefault(e.intent, ([], []))
                    rows.append(i)
                    categories.append(e.category)
            self._by_intent = {
                intent: (np.asarray(rows, dtype=np.intp), categories)
                for intent, (rows, categories) in found.items()
            }
        return self._by_intent
