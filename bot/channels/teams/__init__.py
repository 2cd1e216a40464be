"""The Microsoft Teams channel and the Teams agents' desk (the module map is in `channel`).
Only this package imports botbuilder."""
