"""The intent classifier for messages no rule matches: logistic regression over sentence
embeddings, trained at start-up on the labeled exemplars in `exemplars.jsonl`.

Editing the exemplars and restarting is all it takes to teach it. With a `TrainingCache` the
exemplars' vectors and the fitted weights are kept on disk, so a restart with nothing changed
neither embeds nor fits (nor imports scikit-learn).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt

from flows.cache import TrainingCache, digest
from flows.intents import Intent
from retrieval.embedding import Embedder, Vector

EXEMPLARS_FILE = Path(__file__).with_name("exemplars.jsonl")
# Part of the weights' cache key (read without importing scikit-learn, which takes a second).
_SKLEARN = f"scikit-learn {metadata.version('scikit-learn')}"


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
    def __init__(
        self,
        exemplars: Sequence[Exemplar],
        embedder: Embedder,
        *,
        strength: float = 4.0,
        cache: TrainingCache | None = None,
    ):
        self._exemplars = tuple(exemplars)
        self._embedder = embedder
        self._strength = strength
        self._cache = cache
        self._weights: npt.NDArray[np.float64] | None = None
        self._bias: npt.NDArray[np.float64] | None = None
        self._classes: tuple[Intent, ...] = ()
        self._vectors: Vector | None = None
        self._by_intent: dict[Intent, tuple[npt.NDArray[np.intp], list[str]]] | None = None

    def fit(self, faq_vectors: Vector | None = None) -> None:
        """Train on the exemplars plus, as FAQ examples, the knowledge base's own titles and
        alternative phrasings (`faq_vectors`): what the knowledge base answers is an FAQ, and
        the classifier learns the vocabulary of this knowledge base."""
        if self._vectors is None:
            self._vectors = self._exemplar_vectors()
        x = self._vectors
        labels = [e.intent.value for e in self._exemplars]
        if faq_vectors is not None and len(faq_vectors):
            x = np.vstack([x, np.asarray(faq_vectors, dtype=x.dtype)])
            labels += [Intent.FAQ.value] * len(faq_vectors)
        key = digest(self._embedder.name, x, "\n".join(labels), repr(self._strength), _SKLEARN)
        cached = self._cache.get("router-weights", key) if self._cache else None
        if cached is None:
            cached = self._train(x, labels)
            if self._cache is not None:
                self._cache.put("router-weights", key, cached)
        self._weights = np.asarray(cached["coef"], dtype=np.float64)
        self._bias = np.asarray(cached["intercept"], dtype=np.float64)
        self._classes = tuple(Intent(str(c)) for c in cached["classes"])

    def _train(self, x: Vector, labels: list[str]) -> dict[str, npt.NDArray[np.generic]]:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self._strength, max_iter=3000)
        model.fit(x, labels)
        return {
            "coef": np.asarray(model.coef_, dtype=np.float64),
            "intercept": np.asarray(model.intercept_, dtype=np.float64),
            "classes": np.asarray([str(c) for c in model.classes_]),
        }

    def _exemplar_vectors(self) -> Vector:
        texts = [e.text for e in self._exemplars]
        key = digest(self._embedder.name, "\x00".join(texts))
        cached = self._cache.get("router-exemplars", key) if self._cache else None
        if cached is not None:
            return np.asarray(cached["vectors"], dtype=np.float32)
        vectors = self._embedder.encode(texts)
        if self._cache is not None:
            self._cache.put("router-exemplars", key, {"vectors": vectors})
        return vectors

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
