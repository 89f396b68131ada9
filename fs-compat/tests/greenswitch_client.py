"""Drives faxserver's Event Socket with greenswitch, a real FreeSWITCH ESL client.

Usage: greenswitch_client.py HOST PORT PASSWORD DOCUMENT UUID

Authenticates, runs `api status`, `bgapi version` (and waits for its BACKGROUND_JOB
event), subscribes to every event in plain format, filters on UUID, originates a fax of
DOCUMENT through gateway gw1 the way gofaxserver did, collects events until
CHANNEL_HANGUP_COMPLETE, and prints what it saw as one JSON object on stdout.
"""

import json
import sys

import gevent
import gevent.event
from greenswitch import InboundESL

LIMIT = 120


def main():
    host, port, password, document, uuid = sys.argv[1:6]
    events = []
    background = gevent.event.AsyncResult()
    done = gevent.event.Event()

    def on_event(event):
        headers = dict(event.headers)
        if "Event-Name" not in headers:
            # The disconnect notice after `exit` also reaches catch-all handlers.
            return
        if headers.get("Event-Name") == "BACKGROUND_JOB":
            background.set(headers)
            return
        events.append(headers)
        if headers.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE":
            done.set()

    esl = InboundESL(host=host, port=int(port), password=password)
    esl.connect()
    esl.register_handle("*", on_event)
    out = {"status": esl.send("api status").data}
    out["event_reply"] = esl.send("event plain ALL").headers["Reply-Text"]
    reply = esl.send("bgapi version")
    out["bgapi_reply"] = reply.headers["Reply-Text"]
    out["bgapi_job_uuid"] = reply.headers.get("Job-UUID")
    job = background.get(timeout=LIMIT)
    out["background_job"] = {k: job.get(k) for k in ("Job-UUID", "Job-Command", "Event-Name")}
    out["filter_reply"] = esl.send("filter Unique-ID %s" % uuid).headers["Reply-Text"]
    variables = ",".join(
        "%s='%s'" % kv
        for kv in [
            ("ignore_early_media", "true"),
            ("origination_uuid", uuid),
            ("origination_caller_id_number", "15550001"),
            ("origination_caller_id_name", "Green Switch"),
            ("fax_ident", "GREENSWITCH"),
            ("fax_header", "greenswitch test"),
            ("fax_use_ecm", "true"),
            ("fax_disable_v17", "false"),
            ("fax_enable_t38", "false"),
            ("fax_enable_t38_request", "false"),
            ("fax_verbose", "false"),
        ]
    )
    out["originate"] = esl.send(
        "api originate {%s}sofia/gateway/gw1/15551234 &txfax(%s)" % (variables, document)
    ).data
    out["completed"] = done.wait(timeout=LIMIT)
    out["events"] = list(events)
    esl.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
