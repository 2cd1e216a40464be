"""The Slack channel and the Slack agents' desk (the module map is in `channel`). Only this
package imports slack_bolt and slack_sdk."""
