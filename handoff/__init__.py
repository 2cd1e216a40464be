"""Tickets, conversation summaries, the agent queue, relay and outbox, and the ticket systems
they can live in (`handoff.itsm`: built-in, ServiceNow, Jira Service Management, Zendesk)."""
