"""A TCP proxy for fault tests: forwards LISTEN_PORT to TARGET_PORT on 127.0.0.1 until told otherwise.

    python3 fault_proxy.py LISTEN_PORT TARGET_PORT [--interleave-amqp]

LISTEN_PORT 0 lets the kernel pick one; the proxy prints "listening PORT" once it accepts.

--interleave-amqp reads the broker's side as AMQP 0-9-1 frames and, inside every message's
content (after its header frame, before its first body frame), adds a `connection.blocked` on
channel 0, and a `connection.unblocked` after its last body frame: frames of another channel
between a message's content frames, which the protocol allows and RabbitMQ seldom does.

Signals:
    SIGUSR1  freeze: keep every connection open but stop moving bytes (a blackhole: the peers see
             silence, not an error, until their own timeouts or heartbeats fire)
    SIGCONT  thaw: move bytes again
    SIGUSR2  reset: close every current connection with RST (new connections are accepted)
"""
import asyncio
import signal
import socket
import struct
import sys

LISTEN, TARGET = int(sys.argv[1]), int(sys.argv[2])
INTERLEAVE = "--interleave-amqp" in sys.argv[3:]
flowing = asyncio.Event()
flowing.set()
connections = set()


async def pump(reader, writer, transform=None):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()
            writer.write(transform(data) if transform else data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def method_frame(class_id, method_id, arguments=b""):
    payload = struct.pack(">HH", class_id, method_id) + arguments
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


BLOCKED = method_frame(10, 60, bytes([len(b"interleaved")]) + b"interleaved")
UNBLOCKED = method_frame(10, 61)


class Interleaver:
    """The broker's side, frame by frame, with the frames of --interleave-amqp added."""

    def __init__(self):
        self.buffered = b""
        self.body_left = {}  # channel -> body bytes still to come

    def __call__(self, data):
        self.buffered += data
        out = []
        while len(self.buffered) >= 7:
            kind, channel, size = struct.unpack(">BHI", self.buffered[:7])
            if len(self.buffered) < 8 + size:
                break
            frame, self.buffered = self.buffered[:8 + size], self.buffered[8 + size:]
            out.append(frame)
            if kind == 2:  # content header: class, weight, body size
                out.append(BLOCKED)
                self.body_left[channel] = struct.unpack(">Q", frame[11:19])[0]
            elif kind == 3 and channel in self.body_left:
                self.body_left[channel] -= size
            if channel in self.body_left and self.body_left[channel] <= 0:
                del self.body_left[channel]
                out.append(UNBLOCKED)
        return b"".join(out)


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, server_writer)
    connections.add(pair)
    try:
        await asyncio.gather(pump(client_reader, server_writer),
                             pump(server_reader, client_writer, Interleaver() if INTERLEAVE else None))
    finally:
        connections.discard(pair)


def freeze():
    flowing.clear()
    # Said once it holds, so a test can wait for it instead of guessing when the signal landed.
    print("frozen", flush=True)


def thaw():
    flowing.set()
    print("flowing", flush=True)


def reset():
    for pair in list(connections):
        for writer in pair:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            writer.transport.abort()
    connections.clear()


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, freeze)
    loop.add_signal_handler(signal.SIGCONT, thaw)
    loop.add_signal_handler(signal.SIGUSR2, reset)
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    # With LISTEN_PORT 0 the kernel picks a free port (no window for another process to take it
    # between choosing and binding): say which, for whoever started the proxy.
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
