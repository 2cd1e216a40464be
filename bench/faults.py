"""Lost, duplicated and failed turns under each fault, with real deskbot processes.

    python bench/faults.py [--only slack-none,slack-kill,slack-term,teams-kill,db-down,db-pause]
                           [--outage-seconds 10]

Each fault runs the scenario of tests/test_faults.py (tests/fault_world.py) and prints one line:
messages sent, acknowledged by deskbot, lost (acknowledged or sent but never stored or never
answered), duplicated (stored or answered twice), failed (5xx answers or turns ending in the
error apology) and kept (users told their message was kept). The target is 0 lost, 0 duplicated
and 0 failed under every fault; `slack-none`, the same burst without a fault, is the baseline a
fault's counts compare with. The database faults need PostgreSQL: DESKBOT_TEST_DATABASE_URL (an
admin URL; a throw-away database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.fault_world import Tally, slack_fault, teams_fault, web_outage  # noqa: E402

FAULTS = ("slack-none", "slack-kill", "slack-term", "teams-kill", "db-down", "db-pause")


def sqlite_copy(workdir: Path) -> str:
    """A migrated SQLite database with the demo knowledge base and a calibration for the hash
    embedder (what the tests' demo database holds)."""
    from bot import wiring
    from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH, Settings
    from retrieval.embedding import HashEmbedder
    from retrieval.evaluation import fit_calibration, load_queries
    from retrieval.loader import load_path

    url = f"sqlite:///{workdir / 'deskbot.db'}"
    settings = Settings(DESKBOT_DATABASE_URL=url, DESKBOT_KB_PATH=DEMO_KB_PATH)
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, HashEmbedder())
    kb = services.knowledge
    kb.import_articles(load_path(DEMO_KB_PATH).articles)
    kb.use_calibration(
        fit_calibration(kb, load_queries(DEMO_QUESTIONS_PATH), 0.9, "bench"), persist=True
    )
    services.encoder.close()
    engine.dispose()
    return url


async def run(name: str, args: argparse.Namespace) -> Tally:
    workdir = Path(tempfile.mkdtemp(prefix=f"deskbot-faults-{name}-"))
    try:
        if name.startswith("db-"):
            from tests.conftest import empty_pg_database

            with empty_pg_database() as url:
                how = name.removeprefix("db-")
                return await web_outage(url, workdir, how=how, seconds=args.outage_seconds)
        url = sqlite_copy(workdir)
        if name == "teams-kill":
            return await teams_fault(url, workdir)
        return await slack_fault(url, workdir, how=name.removeprefix("slack-"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(FAULTS))
    parser.add_argument("--outage-seconds", type=float, default=10.0)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise SystemExit(f"unknown fault: {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    if any(n.startswith("db-") for n in names) and not os.environ.get("DESKBOT_TEST_DATABASE_URL"):
        raise SystemExit("the database faults need DESKBOT_TEST_DATABASE_URL (PostgreSQL)")
    print(f"cores: {os.cpu_count()}  embedder: hash  processes: deskbot serve (build + serve)")
    bad = 0
    for name in names:
        started = time.perf_counter()
        tally = await run(name, args)
        print(f"{tally.line()}  [{time.perf_counter() - started:.0f} s]", flush=True)
        bad += tally.lost + tally.duplicated + tally.failed
    print("all faults: 0 lost, 0 duplicated, 0 failed" if not bad else f"NOT CLEAN: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
