"""Tickets, conversation summaries, the agent queue, relay and outbox."""
