"""The DingTalk endpoints the sandbox serves, one module per API family.

Each handler takes the request, the sandbox state and its configuration, and
returns the success payload or raises ``OapiError``/``ApiError``; the pipeline
turns either into the family's wire shape.  ``control`` serves ``/_sandbox/*``.
"""
