"""Tickets and their events, the case as a ticket (title, summary, facts), the agent queue and
the durable outbox."""
