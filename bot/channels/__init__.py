"""Channels: where employees talk to deskbot. Each is a package that turns its platform's
events into `IncomingMessage`s and renders `Reply`s, with its own wording for what only it
shows (the `Channel` contract is in bot.seams). Channels import neither each other nor the
console. Only bot/channels/slack imports slack_bolt/slack_sdk; only bot/channels/teams imports
botbuilder."""
