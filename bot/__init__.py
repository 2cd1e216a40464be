"""deskbot's edge: neutral message types, the dialogue core, channels, web server and CLI."""
