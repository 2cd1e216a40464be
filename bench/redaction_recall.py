"""Redaction recall per category, false redactions, and cost per message.

    python bench/redaction_recall.py [--compare OLD_REDACTION.py] [--rounds 7]
        [--ordinary ../shared/data/stackfaq-dev/queries.jsonl ...]

Recall: the share of secret-bearing messages whose every secret is gone after redaction ("kind
right": the share that also reports every expected kind), per category and per place of the cue
(before the value, after it, none), on two sets: ``tests/data/redaction_corpus.jsonl``, written
with the detectors, and ``tests/data/redaction_holdout.jsonl``, written after them and measured
before any change for it. False redactions: look-alike messages of both sets that redaction
changed, and ordinary questions (the demo questions, the dialogue hold-out sets and any
``--ordinary`` JSONL files of ``text``, ``query`` or ``body`` rows) that it changed.

Cost: CPU time per message of ``redact()``, p50 and p99 over the messages, each message timed
over a batch of calls. The baseline, measured in the same run on the same messages, is a plain
``str.lower()`` pass (redaction does one itself), so the ratio says how many lower-casing passes
a redaction costs. ``--compare`` loads another implementation of the module from a file (for
example the one before a change: ``git show main:bot/redaction.py > /tmp/old.py``) and reports
its recall and cost next to this one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import redaction  # noqa: E402 - after the path set-up above
from tests.redaction_corpus import Row, load  # noqa: E402

SETS = {
    "corpus": ROOT / "tests" / "data" / "redaction_corpus.jsonl",
    "hold-out": ROOT / "tests" / "data" / "redaction_holdout.jsonl",
}
ORDINARY = [
    ROOT / "bot" / "demo" / "questions.jsonl",
    ROOT / "tests" / "data" / "routing_regression.jsonl",
    ROOT / "tests" / "data" / "dialogue_holdout2.jsonl",
]
CUES = ("before", "after", "none")


def ordinary_messages(paths: Sequence[Path]) -> list[str]:
    texts: list[str] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text = row.get("text") or row.get("query") or row.get("body")
            if not isinstance(text, str):
                raise SystemExit(f"{path}:{number}: no text, query or body")
            texts.append(text)
    return texts


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("compared_redaction", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def recall_table(redact: Callable[[str], object], rows: Sequence[Row]) -> None:
    removed: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    kind_right: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        result = redact(row.text)
        ok = not row.leaks(result.text)  # type: ignore[attr-defined]
        removed[row.category][row.cue].append(ok)
        removed[row.category]["all"].append(ok)
        removed["ALL"][row.cue].append(ok)
        removed["ALL"]["all"].append(ok)
        right = ok and row.kinds <= result.kinds  # type: ignore[attr-defined]
        kind_right[row.category].append(right)
        kind_right["ALL"].append(right)

    def cell(values: list[bool]) -> str:
        return f"{sum(values)}/{len(values)}" if values else "-"

    print(f"{'category':<22}{'recall':>9}{'kind right':>12}" + "".join(f"{c:>9}" for c in CUES))
    for category in sorted(removed, key=lambda c: (c == "ALL", c)):
        by_cue = removed[category]
        share = sum(by_cue["all"]) / len(by_cue["all"])
        print(
            f"{category:<22}{share:>9.0%}{cell(kind_right[category]):>12}"
            + "".join(f"{cell(by_cue[c]):>9}" for c in CUES)
        )


def false_redactions(redact: Callable[[str], object], texts: Sequence[str]) -> list[str]:
    return [t for t in texts if redact(t).text != t]  # type: ignore[attr-defined]


def per_message_seconds(
    fn: Callable[[str], object], texts: Sequence[str], rounds: int
) -> list[float]:
    """Per message: the fastest of ``rounds`` batches, divided by the batch size.

    Time is the CPU time of this thread, so that other processes on a shared machine do not
    count; the fastest batch drops the rest of the noise.
    """
    batch = 20
    out = []
    for text in texts:
        best = float("inf")
        for _ in range(rounds):
            start = time.thread_time()
            for _ in range(batch):
                fn(text)
            best = min(best, time.thread_time() - start)
        out.append(best / batch)
    return out


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", type=Path, help="another implementation of bot/redaction")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ordinary", type=Path, nargs="*", default=[])
    args = parser.parse_args()

    sets = {name: load(path) for name, path in SETS.items()}
    ordinary = ordinary_messages([*ORDINARY, *args.ordinary])
    impls: list[tuple[str, Callable[[str], object]]] = [("this tree", redaction.redact)]
    if args.compare:
        impls.append((str(args.compare), load_module(args.compare).redact))

    for name, redact in impls:
        for set_name, rows in sets.items():
            secrets = [r for r in rows if r.is_secret]
            lookalikes = [r for r in rows if not r.is_secret]
            print(f"\n== {name}, {set_name}: {len(secrets)} secret-bearing messages "
                  f"(recall: rows whose every secret is gone), {len(lookalikes)} look-alikes")
            recall_table(redact, secrets)
            changed = false_redactions(redact, [r.text for r in lookalikes])
            print(f"false redactions: {len(changed)}/{len(lookalikes)} look-alikes")
            for text in changed[:10]:
                print(f"  changed: {text[:90]!r}")
        plain = false_redactions(redact, ordinary)
        print(f"false redactions: {len(plain)}/{len(ordinary)} ordinary questions")
        for text in plain[:10]:
            print(f"  changed: {text[:90]!r}")

    print(f"\n== cost per message (CPU time, best of {args.rounds} batches of 20 calls)")
    timed = {
        "corpus and hold-out": [r.text for rows in sets.values() for r in rows],
        "ordinary": ordinary,
    }
    for label, texts in timed.items():
        base50, base99 = quantiles(per_message_seconds(str.lower, texts, args.rounds))
        print(f"{label} ({len(texts)} messages): str.lower p50 {base50 * 1e6:.2f} us, "
              f"p99 {base99 * 1e6:.2f} us")
        for name, redact in impls:
            p50, p99 = quantiles(per_message_seconds(redact, texts, args.rounds))
            print(f"  {name}: p50 {p50 * 1e6:.1f} us ({p50 / base50:.0f}x), "
                  f"p99 {p99 * 1e6:.1f} us ({p99 / base99:.0f}x)")


if __name__ == "__main__":
    main()
