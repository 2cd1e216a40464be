"""The dialogue core, channel-neutral: user turns (`turns`) and the desk relay (`relay`), the
conversations they keep, the message types channels convert to and from, and the generic
wording of the assistant."""
