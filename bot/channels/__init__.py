"""Channel adapters: each turns its platform's events into IncomingMessages and renders
Replies. Only bot/channels/slack* imports slack_bolt/slack_sdk; only bot/channels/teams*
imports botbuilder."""
