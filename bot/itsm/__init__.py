"""The desk's ITSM (ServiceNow, Jira Service Management, Zendesk) as deskbot's ticket system:
the desk that opens hand-offs there (`desk`), the poller that relays what agents write there
(`poller`), the status flow's view of it (`requests`), the optional push endpoints (`push`),
and the connection the settings name (`connection`). The adapters themselves are
`handoff.itsm`'s; nothing here is used with the built-in system."""
