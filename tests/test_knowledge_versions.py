"""Article versions and one source of truth, on SQLite and PostgreSQL: every change is a
version with author, time and reason; re-importing files never overwrites an article an owner
changed in the console since (kept, and reported as a conflict when the file changed too);
`deskbot demo` restarted on the same database keeps the owners' work."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bot import wiring
from bot.cli import app
from bot.settings import DEMO_KB_PATH
from retrieval.articles import Article, Status
from retrieval.embedding import HashEmbedder, SentenceEmbedder
from retrieval.loader import load_path
from retrieval.store import Change, KnowledgeStore, record
from tests.conftest import test_settings
from tests.test_knowledge import DATA, make_kb

VPN = Article(
    id="vpn",
    title="Fix VPN errors",
    answer="Restart the VPN client.",
    questions=("vpn error 809",),
    owner="Network Team",
    reviewed_on=date(2026, 9, 1),
    review_every_days=365,
    tags=("vpn",),
)
OWNER = Change("priya", "console", "clearer answer")


def test_every_change_is_a_version_with_author_time_and_reason(engine: Engine) -> None:
    kb = make_kb(engine)
    first = kb.import_articles([VPN])
    assert first.versions == {"vpn": 1}
    edited = replace(VPN, answer="Restart the VPN client, then your laptop.")
    second = kb.import_articles([edited], change=OWNER)
    assert second.updated == ["vpn"] and second.versions == {"vpn": 2}
    assert kb.import_articles([edited], change=OWNER).unchanged == ["vpn"]  # no empty version
    history = KnowledgeStore(engine).history("vpn")
    assert [(v.number, v.author, v.via, v.reason) for v in history] == [
        (2, "priya", "console", "clearer answer"),
        (1, "import", "import", ""),
    ]
    assert history[0].article == edited and history[1].article == VPN
    assert history[0].at >= history[1].at and history[0].at.tzinfo is not None
    assert record(history[1].article) == record(VPN)
    assert KnowledgeStore(engine).current_version("vpn") == 2


def test_reimport_keeps_a_console_change_and_reports_a_conflict(engine: Engine) -> None:
    kb = make_kb(engine)
    kb.import_articles([VPN])
    linked = replace(VPN, questions=(*VPN.questions, "vpn wont conect"))
    kb.import_articles([linked], change=Change("priya", "link", "linked a question"))
    # the same file again: the owner's version stays, silently (nothing to reconcile)
    again = kb.import_articles([VPN])
    assert again.kept == ["vpn"] and not again.updated and not again.conflicts
    assert kb.article("vpn") == linked
    # the file changed as well: the owner's version still stays, and the import says so
    changed_file = replace(VPN, answer="Reinstall the VPN client.")
    report = kb.import_articles([changed_file])
    assert report.conflicts == ["vpn"] and not report.updated
    assert kb.article("vpn") == linked
    assert KnowledgeStore(engine).get("vpn") == linked
    assert len(KnowledgeStore(engine).history("vpn")) == 2
    # a fresh process sees the same
    assert make_kb(engine).load().articles == 1
    # an article only ever changed from files is updated by files as before
    other = replace(VPN, id="wifi", title="Wi-Fi")
    kb.import_articles([other])
    assert kb.import_articles([replace(other, answer="Forget the network.")]).updated == ["wifi"]


def test_demo_restart_keeps_what_owners_did(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    settings = test_settings(url)
    embedder = HashEmbedder()
    services = wiring.services(settings, wiring.database(settings), embedder)
    wiring.prepare_knowledge(settings, services, import_path=True)
    kb = services.knowledge
    reset = kb.article("password-reset")
    assert reset is not None
    linked = replace(reset, questions=(*reset.questions, "how do i reset my pasword"))
    kb.import_articles([linked], change=Change("demo-owner", "link", "linked"))
    draft = Article(id="laptop-wont-turn-on", title="My laptop won't turn on", status=Status.DRAFT)
    kb.import_articles([draft], change=Change("demo-owner", "draft", "from a gap"))

    # `deskbot demo` again: a new process, the same database, the demo files imported again
    again = wiring.services(settings, wiring.database(settings), embedder)
    wiring.prepare_knowledge(settings, again, import_path=True)
    assert again.knowledge.article("password-reset") == linked
    assert again.knowledge.article("laptop-wont-turn-on") == draft
    files = {a.id for a in load_path(DEMO_KB_PATH).articles}
    assert {a.id for a in again.knowledge.articles()} == files | {"laptop-wont-turn-on"}


@pytest.mark.slow
def test_kb_import_reports_a_conflict_by_id_and_keeps_the_console_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: SentenceEmbedder
) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(DATA / "kb_small", folder)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DESKBOT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["kb", "import", str(folder)]).exit_code == 0
    settings = test_settings(url)
    kb = wiring.knowledge_base(settings, wiring.database(settings), real_embedder)
    kb.load()
    vpn = kb.article("vpn")
    assert vpn is not None
    mine = replace(vpn, answer="Owner's answer.")
    kb.import_articles([mine], change=Change("priya", "console", "owner edit"))
    path = folder / "vpn.md"
    path.write_text(path.read_text().replace("status: validated", "status: draft"))
    result = CliRunner().invoke(app, ["kb", "import", str(folder)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "conflict: vpn: changed in the console and in its file" in output
    assert "4 unchanged, 1 kept as changed in the console" in output
    assert KnowledgeStore(wiring.database(settings)).get("vpn") == mine
