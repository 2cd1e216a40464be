"""Tickets and their events, the case as a ticket (title, summary, facts), the agent queue, the
durable outbox, and the ticket systems a ticket can live in (`handoff.itsm`: built-in,
ServiceNow, Jira Service Management, Zendesk)."""
