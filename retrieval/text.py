"""Text preparation: BM25 tokens and the passages each article is embedded as."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import snowballstemmer

from retrieval.articles import Article

# Function words that carry no topic. Kept short on purpose: "not", "no" and "can't" change
# meaning and stay in.
STOP_WORDS = frozenset(
    """a an the to of in on for and or is are was were be been am do does did how what
    which who whom why where when i me my mine you your we our us it its this that these those
    there here with from by at as if so into about can could would should will shall may might
    please hi hello any some way possible like want need get im i'm i'd id ive i've s t""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words. Codes such as `0x80070005` or `kb-12` stay whole."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


class View(IntEnum):
    """Which side of an article a passage shows: how it is asked, or what it says."""

    QUESTION = 0  # title and alternative phrasings
    CONTENT = 1  # short answer and body chunks, each prefixed by the title


@dataclass(frozen=True)
class Passage:
    view: View
    text: str


CHUNK_WORDS = 60


def chunk_body(body: str, words_per_chunk: int = CHUNK_WORDS) -> list[str]:
    """Split a body into passages of about `words_per_chunk` words, never across paragraphs
    unless a paragraph is short. Short chunks embed sharply; MiniLM truncates at 256 tokens."""
    chunks: list[str] = []
    current: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        words = paragraph.split()
        if not words:
            continue
        if current and len(current) + len(words) > words_per_chunk:
            chunks.append(" ".join(current))
            current = []
        while len(words) > words_per_chunk:
            chunks.append(" ".join(words[:words_per_chunk]))
            words = words[words_per_chunk:]
        current.extend(words)
    if current:
        chunks.append(" ".join(current))
    return chunks


def passages(article: Article) -> list[Passage]:
    """The texts an article is embedded as. Content passages carry the title, so a chunk
    that says "click Archive" still knows it is about Gmail."""
    title = article.title.strip()
    out = [Passage(View.QUESTION, title)]
    out += [Passage(View.QUESTION, q) for q in article.questions]
    if article.answer.strip():
        out.append(Passage(View.CONTENT, f"{title}. {article.answer.strip()}"))
    out += [
        Passage(View.CONTENT, f"{title}. {chunk}") for chunk in chunk_body(_plain(article.body))
    ]
    if not any(p.view is View.CONTENT for p in out):
        out.append(Passage(View.CONTENT, title))
    return out


def bm25_text(article: Article) -> str:
    return "\n".join([article.title, *article.questions, article.answer, _plain(article.body)])


def _plain(markdown: str) -> str:
    """Markdown to plain-ish text: drop link targets, emphasis and heading marks."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"[*_`>]+", "", text)
    return text
