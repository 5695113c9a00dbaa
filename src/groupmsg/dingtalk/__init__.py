"""A DingTalk client: access tokens, group creation, group messages and custom-robot webhooks.

It takes plain values (URLs, tokens, ids, `Message`) and speaks httpx, so it can be lifted out of
groupmsg as a library.
"""
