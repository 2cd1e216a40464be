"""The console for service-desk agents and knowledge owners, served at /console."""
