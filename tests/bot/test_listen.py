"""The listener bound before start-up (bot.running.listen) serves connections with Nagle's
algorithm off, as uvicorn's own bind does: asyncio sets TCP_NODELAY on an accepted
connection only when its socket's protocol is IPPROTO_TCP. With protocol 0 every small
answer (an ack) waited for the client's delayed ACK, ~40 ms."""

from __future__ import annotations

import asyncio
import socket

from bot.running.listen import bind_listener


def test_connections_accepted_on_the_listener_have_nagle_off() -> None:
    listener = bind_listener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    seen: list[int] = []

    async def main() -> None:
        async def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_client, sock=listener)
        async with server:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0
