#!/usr/bin/env python3
"""A tiny SMTP sink for local development and tests (standard library only).

It accepts every message and appends it to a mailbox file, one JSON object per line:
    {"mail_from": "...", "rcpt_tos": ["..."], "data": "...", "received_at": "2024-01-01T00:00:00.000000+00:00", "tls": false}
`data` is the message as received (CRLF line endings, dot-unstuffed, without the final ".").
Bytes that are not UTF-8 are replaced with U+FFFD.

Test hooks: a recipient in the reserved domain `tempfail.invalid` is refused with 451 (a
temporary failure), one in `permfail.invalid` with 550 (a permanent failure). Fault modes, by
the recipient's local part (any domain; a suffix after another '-' is free, e.g. rcpt-550-a@x):
    rcpt-NNN    RCPT TO is answered NNN (4xx or 5xx)
    data-NNN    the recipient is accepted; the message's end is answered NNN and nothing is stored
    drop-data   the connection is closed in the middle of the message (nothing stored)
    drop-dot    the whole message is received and stored, then the connection is closed before
                the reply (the client cannot know it was delivered)
    drop-dot-once  as drop-dot the first time this sink sees the address, accepted after that
    hold-dot    the whole message is received and stored; the reply (250) waits until the control
                file lists the address under "release" (a test's event, not a timer)
With --control FILE (re-read when it changes), a JSON object can answer chosen recipients too:
    {"addresses": {"a@example.com": "452 4.2.2 mailbox full"}, "domains": {"example.org": "550 5.7.1 no"},
     "release": ["hold-dot-1@example.com"]}
Every other recipient is accepted.

Commands: HELO, EHLO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT, VRFY, HELP; AUTH PLAIN/LOGIN
accept any credentials. With --tls-cert and --tls-key (PEM), STARTTLS is offered and done
(--tls starttls, the default then) or every connection is TLS from its first byte (--tls implicit,
as smtps:// on port 465 is). Without them: no TLS.

Usage: smtp_sink.py --mailbox PATH [--host 127.0.0.1] [--port 2525] [--pidfile PATH] [--control FILE]
                    [--tls-cert PEM --tls-key PEM [--tls starttls|implicit]]
"""

import argparse
import asyncio
import base64
import datetime
import json
import os
import signal
import ssl
import sys

MAX_LINE = 1024 * 1024  # command and data lines (RFC 5321 says 1000; be lenient)
MAX_MESSAGE = 64 * 1024 * 1024
IDLE_TIMEOUT = 300.0
TEMPFAIL_DOMAIN = "tempfail.invalid"
PERMFAIL_DOMAIN = "permfail.invalid"


def fault_of(address):
    """('rcpt'|'data', 'NNN') or ('drop-data'|'drop-dot'|'drop-dot-once'|'hold-dot', None) for a fault-mode address, else None."""
    local = address.rpartition("@")[0].lower()
    parts = local.split("-")
    if len(parts) >= 2 and parts[0] in ("rcpt", "data") and len(parts[1]) == 3 and parts[1].isdigit() \
            and parts[1][0] in "45":
        return parts[0], parts[1]
    if len(parts) >= 3 and parts[:3] == ["drop", "dot", "once"]:
        return "drop-dot-once", None
    if len(parts) >= 2 and parts[:2] == ["hold", "dot"]:
        return "hold-dot", None
    if len(parts) >= 2 and parts[0] == "drop" and parts[1] in ("data", "dot"):
        return "drop-" + parts[1], None
    return None


def hook_reply(code, what):
    """'451 4.0.0 …' for a code the test asked for."""
    return f"{code} {code[0]}.0.0 {what} (test hook)"


class Control:
    """The replies the control file asks for, re-read when the file changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.addresses = {}
        self.domains = {}
        self.released = set()

    def reply_for(self, address):
        self.reload()
        address = address.lower()
        return self.addresses.get(address) or self.domains.get(address.rpartition("@")[2])

    def is_released(self, address):
        self.reload()
        return address.lower() in self.released

    def reload(self):
        if not self.path:
            return
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self.stamp:
            self.stamp = stamp
            self.addresses, self.domains, self.released = {}, {}, set()
            if stamp is not None:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        config = json.load(f)
                    self.addresses = {k.lower(): str(v) for k, v in config.get("addresses", {}).items()}
                    self.domains = {k.lower(): str(v) for k, v in config.get("domains", {}).items()}
                    self.released = {str(a).lower() for a in config.get("release", [])}
                except (OSError, ValueError, AttributeError) as error:
                    print(f"smtp_sink: control file {self.path} ignored: {error!r}", file=sys.stderr, flush=True)


def address_in(arg, keyword):
    """Return the address in 'FROM:<a@b> SIZE=1' (keyword 'FROM'), or None when malformed."""
    if not arg.upper().startswith(keyword + ":"):
        return None
    rest = arg[len(keyword) + 1:].strip()
    if rest.startswith("<"):
        end = rest.find(">")
        return None if end < 0 else rest[1:end]
    return rest.split(" ", 1)[0] if rest else None


class Session:
    def __init__(self, sink, reader, writer):
        self.sink = sink
        self.reader = reader
        self.writer = writer
        self.tls = writer.get_extra_info("sslcontext") is not None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt_tos = []
        self.faults = []

    async def reply(self, line):
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()

    async def readline(self):
        # asyncio.timeout, not wait_for: no task per line.
        async with asyncio.timeout(IDLE_TIMEOUT):
            line = await self.reader.readline()
        if not line:
            raise ConnectionResetError("client went away")
        return line

    async def data_line(self):
        """A line of the message: no timer of its own (the DATA phase as a whole has one)."""
        line = await self.reader.readline()
        if not line:
            raise ConnectionResetError("client went away")
        return line

    async def run(self):
        await self.reply("220 localhost Conveyor SMTP sink ready")
        while True:
            try:
                raw = await self.readline()
            except ValueError:  # line longer than MAX_LINE
                await self.reply("500 5.5.2 line too long")
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb, arg = verb.upper(), arg.strip()
            handler = getattr(self, "smtp_" + verb, None)
            if handler is None:
                await self.reply("502 5.5.2 command not recognised")
            elif await handler(arg) is False:
                return

    async def smtp_HELO(self, arg):
        self.reset()
        await self.reply("250 localhost")

    async def smtp_EHLO(self, arg):
        self.reset()
        offer = ["250-STARTTLS"] if self.sink.starttls and not self.tls else []
        for line in ["250-localhost", "250-8BITMIME", "250-SMTPUTF8", "250-PIPELINING", *offer,
                     "250-AUTH PLAIN LOGIN", f"250 SIZE {MAX_MESSAGE}"]:
            self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()

    async def smtp_AUTH(self, arg):
        mechanism, _, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial:
                await self.reply("334 ")
                await self.readline()
        elif mechanism == "LOGIN":
            if not initial:
                await self.reply("334 " + base64.b64encode(b"Username:").decode())
                await self.readline()
            await self.reply("334 " + base64.b64encode(b"Password:").decode())
            await self.readline()
        else:
            await self.reply("504 5.5.4 unrecognised authentication type")
            return
        await self.reply("235 2.7.0 authentication succeeded")

    async def smtp_MAIL(self, arg):
        address = address_in(arg, "FROM")
        if address is None:
            await self.reply("501 5.5.4 syntax: MAIL FROM:<address>")
        elif self.mail_from is not None:
            await self.reply("503 5.5.1 nested MAIL command")
        else:
            self.mail_from = address
            await self.reply("250 2.1.0 OK")

    async def smtp_RCPT(self, arg):
        address = address_in(arg, "TO")
        domain = (address or "").rpartition("@")[2].lower()
        if self.mail_from is None:
            await self.reply("503 5.5.1 need MAIL before RCPT")
        elif not address:
            await self.reply("501 5.5.4 syntax: RCPT TO:<address>")
        elif domain == TEMPFAIL_DOMAIN:
            await self.reply("451 4.3.0 temporary failure (test hook)")
        elif domain == PERMFAIL_DOMAIN:
            await self.reply("550 5.1.1 mailbox unavailable (test hook)")
        elif self.sink.control.reply_for(address):
            await self.reply(self.sink.control.reply_for(address))
        elif fault_of(address) and fault_of(address)[0] == "rcpt":
            await self.reply(hook_reply(fault_of(address)[1], "recipient refused"))
        else:
            fault = fault_of(address)
            if fault and fault[0] == "drop-dot-once":
                fault = ("drop-dot", None) if address.lower() not in self.sink.dropped_once else None
                self.sink.dropped_once.add(address.lower())
            if fault:
                self.faults.append(fault)
            self.rcpt_tos.append(address)
            await self.reply("250 2.1.5 OK")

    async def smtp_DATA(self, arg):
        if not self.rcpt_tos:
            await self.reply("503 5.5.1 need RCPT before DATA")
            return
        await self.reply("354 end data with <CR><LF>.<CR><LF>")
        kinds = {kind: code for kind, code in self.faults}
        if "drop-data" in kinds:
            await self.readline()  # part of the message has arrived: hang up in its middle
            return False
        async with asyncio.timeout(IDLE_TIMEOUT):
            return await self.receive(kinds)

    async def receive(self, kinds):
        chunks, size, too_big = [], 0, False
        while True:
            try:
                line = await self.data_line()
            except ValueError:  # an over-long line still counts against the size
                too_big = True
                continue
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > MAX_MESSAGE:
                too_big = True
            elif not too_big:
                chunks.append(line)
        if too_big:
            await self.reply("552 5.3.4 message too big")
        elif "data" in kinds:
            await self.reply(hook_reply(kinds["data"], "message refused"))
        elif "drop-dot" in kinds:
            self.sink.store(self.mail_from, self.rcpt_tos, b"".join(chunks), self.tls)
            return False
        elif "hold-dot" in kinds:
            self.sink.store(self.mail_from, self.rcpt_tos, b"".join(chunks), self.tls)
            # The test releases the reply through the control file; re-read it until then.
            while not all(self.sink.control.is_released(a) for a in self.rcpt_tos):
                await asyncio.sleep(0.02)
            await self.reply("250 2.0.0 OK: queued")
        else:
            self.sink.store(self.mail_from, self.rcpt_tos, b"".join(chunks), self.tls)
            await self.reply("250 2.0.0 OK: queued")
        self.reset()

    async def smtp_STARTTLS(self, arg):
        if not self.sink.starttls or self.tls:
            await self.reply("502 5.5.1 STARTTLS not available")
            return
        await self.reply("220 2.0.0 ready to start TLS")
        # A client that refuses the certificate hangs up here: ssl raises, the session ends.
        await self.writer.start_tls(self.sink.tls_context)
        self.tls = True
        self.reset()

    async def smtp_RSET(self, arg):
        self.reset()
        await self.reply("250 2.0.0 OK")

    async def smtp_NOOP(self, arg):
        await self.reply("250 2.0.0 OK")

    async def smtp_VRFY(self, arg):
        await self.reply("252 2.5.2 cannot verify, will accept")

    async def smtp_HELP(self, arg):
        await self.reply("214 HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY AUTH")

    async def smtp_QUIT(self, arg):
        await self.reply("221 2.0.0 bye")
        return False


class Sink:
    def __init__(self, mailbox, control=None, tls_context=None, starttls=False):
        self.mailbox = mailbox
        self.tls_context = tls_context
        self.starttls = starttls
        self.control = Control(control)
        self.dropped_once = set()
        # Open for the sink's life: one write() per message on an O_APPEND descriptor.
        self.fd = os.open(self.mailbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def store(self, mail_from, rcpt_tos, data, tls=False):
        record = {
            "mail_from": mail_from,
            "rcpt_tos": list(rcpt_tos),
            "data": data.decode("utf-8", "replace"),
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "tls": tls,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        # One write() on an O_APPEND descriptor: readers never see half a record.
        os.write(self.fd, line)

    async def handle(self, reader, writer):
        try:
            await Session(self, reader, writer).run()
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception as error:  # one bad client must not take the sink down
            print(f"smtp_sink: session failed: {error!r}", file=sys.stderr, flush=True)
        finally:
            writer.close()


async def serve(args):
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    sink = Sink(args.mailbox, args.control, context, starttls=context is not None and args.tls == "starttls")
    implicit = context if args.tls == "implicit" else None
    server = await asyncio.start_server(sink.handle, args.host, args.port, limit=MAX_LINE,
                                        reuse_address=True, ssl=implicit)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.pidfile + ".tmp", args.pidfile)
    tls = f", TLS {args.tls}" if context else ""
    print(f"smtp_sink: listening on {args.host}:{args.port}, mailbox {args.mailbox}{tls}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with server:
            await stop.wait()
    finally:
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass


def main():
    parser = argparse.ArgumentParser(description="SMTP sink: accepts all mail into a JSON-lines mailbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--mailbox", required=True, help="file to append one JSON line per message to")
    parser.add_argument("--pidfile", help="write our pid here once listening; removed on exit")
    parser.add_argument("--control", help="JSON file of replies for chosen addresses and domains (re-read on change)")
    parser.add_argument("--tls-cert", help="PEM certificate (chain) of the server: enables TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--tls", choices=("starttls", "implicit"), default="starttls",
                        help="with --tls-cert: STARTTLS offered (default) or TLS from the first byte")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    os.makedirs(os.path.dirname(os.path.abspath(args.mailbox)), exist_ok=True)
    try:
        asyncio.run(serve(args))
    except OSError as error:
        sys.exit(f"smtp_sink: cannot listen on {args.host}:{args.port}: {error.strerror or error}")


if __name__ == "__main__":
    main()
