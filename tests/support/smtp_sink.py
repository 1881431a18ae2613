#!/usr/bin/python3
"""A real SMTP server for integration tests (Debian's python3-aiosmtpd): saves each message's
raw bytes as DIR/<n>.eml and prints its port on the first line of stdout. Recipients whose
address starts with "reject" get 550. Loopback only."""
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller

OUT = sys.argv[1]


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        # Written aside, then renamed: a reader listing *.eml never sees half a message.
        path = os.path.join(OUT, "%d.eml" % self.n)
        with open(path + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(path + ".part", path)
        return "250 Message accepted"


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
