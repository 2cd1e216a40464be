"""The web chat: a page and a small JSON API at /chat over the dialogue core, its sessions,
templates and assets (the stylesheet is shared with the console)."""
