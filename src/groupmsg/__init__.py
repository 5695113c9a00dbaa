"""groupmsg: DingTalk group-message automation from the command line."""

__version__ = "0.1.0"
