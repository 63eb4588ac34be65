"""A TCP proxy for fault tests: forwards LISTEN_PORT to TARGET_PORT on 127.0.0.1 until told otherwise.

    python3 fault_proxy.py LISTEN_PORT TARGET_PORT

LISTEN_PORT 0 lets the kernel pick one; the proxy prints "listening PORT" once it accepts.

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
flowing = asyncio.Event()
flowing.set()
connections = set()


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.close()
        return
    pair = (client_writer, server_writer)
    connections.add(pair)
    try:
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))
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
