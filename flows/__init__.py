"""Intent routing and the policy of each intent: an explicit allow-list.

A flow is pure decision logic, `(state, message) -> outcome`; lookups go through small
injected services (the knowledge base, the requester's tickets)."""
