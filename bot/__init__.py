"""deskbot's edge: the dialogue core (`dialogue`), the channels and the console, the seams they
plug into (`seams`), the server, the CLI, and the one composition root (`wiring`)."""
