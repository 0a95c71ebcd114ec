"""A test SMTP server: accepts every message on 127.0.0.1:PORT and writes each one, parsed, as
a JSON file (envelope, headers, text and HTML parts, raw source) into DIR. Needs aiosmtpd."""

import argparse
import email
import json
import os
import signal
import threading
import time
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        parts = {}
        for part in message.walk():
            if not part.is_multipart() and part.get_content_type() in ("text/plain", "text/html"):
                parts[part.get_content_type()] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {name: str(value) for name, value in message.items()},
            "content_type": message.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        with self.lock:
            self.count += 1
            name = f"{time.time_ns()}-{self.count}"
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "w") as file:
            json.dump(record, file)
        os.rename(temporary, os.path.join(self.directory, f"{name}.json"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    arguments = parser.parse_args()
    controller = Controller(Sink(arguments.dir), hostname="127.0.0.1", port=arguments.port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
