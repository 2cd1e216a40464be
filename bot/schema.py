"""Every package's tables, for the migrations. No foreign keys cross packages: ids only."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    import bot.dialogue.inbox  # noqa: F401 - registers the inbox on the bot metadata
    import retrieval.gaps  # noqa: F401 - registers its tables on the retrieval metadata
    from bot.channels.slack.store import metadata as slack_metadata
    from bot.channels.teams.store import metadata as teams_metadata
    from bot.channels.web.store import metadata as web_metadata
    from bot.console.tables import metadata as console_metadata
    from bot.dialogue.conversations import metadata as bot_metadata
    from handoff.itsm.polls import polls_table  # noqa: F401 - registers the poll cursors
    from handoff.outbox import outbox_table  # noqa: F401 - registers the outbox table
    from handoff.pacing import pacing_table  # noqa: F401 - registers the shared pacing
    from handoff.tickets import metadata as handoff_metadata
    from retrieval.store import metadata as retrieval_metadata

    return [
        retrieval_metadata,
        handoff_metadata,
        bot_metadata,
        slack_metadata,
        teams_metadata,
        web_metadata,
        console_metadata,
    ]
