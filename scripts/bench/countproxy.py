#!/usr/bin/env python3
"""Counting TCP proxy for scripts/bench.sh (loopback only).

    countproxy.py TARGET_PORT PORT_FILE LOG_FILE
        Listens on 127.0.0.1 (a free port, written to PORT_FILE), forwards every connection to
        127.0.0.1:TARGET_PORT, and when a connection ends appends one JSON line to LOG_FILE:
        {"c2s": bytes client->server, "s2c": bytes server->client, "turns": N}. A turn is a
        burst of client bytes that follows server bytes: the round trips the client waited for
        (the greeting counts as the first server burst). Stops on SIGTERM, after letting the
        connections still open end (bounded: 5 s), so none goes uncounted.
Used for the no-op workload's round trips and exact wire bytes; timed runs do not go through
it (a Python relay would slow the big transfers down).
"""
import asyncio
import json
import signal
import sys


async def main():
    target_port = int(sys.argv[1])
    port_file, log_file = sys.argv[2], sys.argv[3]

    active = set()

    async def handle(cr, cw):
        active.add(asyncio.current_task())
        try:
            await relay(cr, cw)
        finally:
            active.discard(asyncio.current_task())

    async def relay(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            cw.close()
            return
        st = {"c2s": 0, "s2c": 0, "turns": 0, "last": "s"}

        async def pump(reader, writer, key):
            try:
                while True:
                    data = await reader.read(1 << 16)
                    if not data:
                        break
                    st[key] += len(data)
                    if key == "c2s" and st["last"] == "s":
                        st["turns"] += 1
                    st["last"] = "c" if key == "c2s" else "s"
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:
                    pass

        await asyncio.gather(pump(cr, sw, "c2s"), pump(sr, cw, "s2c"))
        with open(log_file, "a") as f:
            f.write(json.dumps({k: st[k] for k in ("c2s", "s2c", "turns")}) + "\n")

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(port_file, "w") as f:
        f.write(f"{port}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()
        # The tool has exited, but a server may not have closed its side yet (at N=100,000 a
        # no-op's connection was still open and its line was lost with a CancelledError).
        if active:
            await asyncio.wait(set(active), timeout=5)


if __name__ == "__main__":
    asyncio.run(main())
