"""`deskbot chat`: the dialogue core in a terminal, the one channel that runs outside the
server."""
