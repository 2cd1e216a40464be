"""Ticket systems: the port (`port.TicketSystem`), one HTTP client (`http`), and adapters for
deskbot's own store (`builtin`), ServiceNow, Jira Service Management and Zendesk."""
