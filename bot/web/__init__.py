"""The aiohttp server: web chat, health, metrics, and the mount points of the channels."""
