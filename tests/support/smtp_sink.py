#!/usr/bin/python3
"""A real SMTP server for integration tests (Debian's python3-aiosmtpd): saves each message's
raw bytes as DIR/<n>.eml and prints its port on the first line of stdout. Recipients whose
address starts with "reject" get 550. Loopback only.

    smtp_sink.py DIR [PORT]

PORT (default: a free one) lets a test start the sink where a receiver already points (a
receiver that refused connections recovers). The file DIR/behaviour, read at each message's
end of DATA, makes the sink misbehave (the fault suite, tests/faults/test_receivers.py):
  451    answer "451 try again later" (a temporary refusal; the message is not kept)
  554    answer "554 rejected" (a permanent refusal; the message is not kept)
  drop   keep the message, then close the connection without answering (accept then drop)
  hang   keep the message, then answer nothing for an hour (past any sender's timeout)
Anything else, or no file, answers 250."""
import asyncio
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller

OUT = sys.argv[1]


def behaviour():
    try:
        with open(os.path.join(OUT, "behaviour"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        how = behaviour()
        if how == "451":
            return "451 try again later"
        if how == "554":
            return "554 rejected"
        self.n += 1
        # Written aside, then renamed: a reader listing *.eml never sees half a message.
        path = os.path.join(OUT, "%d.eml" % self.n)
        with open(path + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(path + ".part", path)
        if how == "drop":
            server.transport.abort()
            return "250 Message accepted"  # written to a closed transport: never sent
        if how == "hang":
            await asyncio.sleep(3600)
        return "250 Message accepted"


if len(sys.argv) > 2:
    port = int(sys.argv[2])
else:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
