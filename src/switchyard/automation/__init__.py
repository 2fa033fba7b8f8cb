"""Automation: what runs without a person at the keyboard. No HTTP framework here.

    settings.py        the knobs (retry policy, URL policy, scheduler tick), read once
    urls.py            the webhook URL policy: which targets may be called (SSRF defence)
    signing.py         how a delivery is signed, and how a receiver checks it
    webhook_store.py   webhooks and their delivery outbox in the server database
    delivery.py        one signed POST to a checked, pinned address
    outbox.py          the recorder (events -> outbox rows) and the deliverer (rows -> POSTs)
    webhooks.py        WebhookService: what the routes call (owner-checked)
    leases.py          named leases in the store (one replica delivers)
    schedules.py       cron and time zones, session modes, the wire shapes
    schedule_store.py  schedules and their runs in the server database
    scheduler.py       ScheduleService and the tick that starts due runs (once each)
    scheduler_tools.py the scheduler's tools for agents that enable `scheduler-tools`

The server wires these in server/automation.py; the routes are server/api/{webhooks,schedules}.py.
"""
