#!/usr/bin/env python3
"""A real SMTP server on loopback for the tests (aiosmtpd, from PyPI): accepts every message and
stores it as DIR/<recipient>/<n>.eml, so a test reads exactly the mail of its own addresses.

Usage: smtp_sink.py --port 2525 --dir /tmp/techpotli-mail
Stops on SIGTERM/SIGINT. Prints "ready" on stdout once it accepts connections."""
import argparse, asyncio, os, pathlib, re, signal, sys, time

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            folder = self.root / re.sub(r"[^a-z0-9@._+-]", "_", rcpt.lower())
            folder.mkdir(parents=True, exist_ok=True)
            self.count += 1
            name = f"{time.time_ns()}-{os.getpid()}-{self.count}.eml"
            tmp = folder / (name + ".tmp")
            tmp.write_bytes(envelope.original_content or envelope.content)
            tmp.rename(folder / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--dir", default="/tmp/techpotli-mail")
    args = ap.parse_args()
    controller = Controller(Store(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.new_event_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        stop.add_signal_handler(sig, done.set)
    try:
        stop.run_until_complete(done.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
