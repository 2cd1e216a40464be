"""Real deskbot processes to kill, stop and cut off from their database, for the fault tests
and `bench/faults.py`.

`python -m tests.fault_world --port N` runs the real server (`build()` + `serve()` with its
SIGTERM drain) configured from the environment like `deskbot serve`, with the fast hash
embedder instead of the model, and prints `ready` once it listens. `TcpProxy` stands between
deskbot and PostgreSQL: `down()` cuts every connection and refuses new ones, `pause()` keeps
them open but passes nothing (a stalled network), `up()`/`resume()` restore it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the deskbot process ------------------------------------------------------------------------


def main() -> None:  # pragma: no cover - runs in the child process
    from bot.cli.common import setup_logging
    from bot.settings import DEMO_QUESTIONS_PATH, Settings
    from bot.wiring import build, prepare_knowledge, serve
    from retrieval.embedding import HashEmbedder
    from retrieval.evaluation import fit_calibration, load_queries

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fit", action="store_true", help="fit a calibration for the hash")
    args = parser.parse_args()
    setup_logging()
    settings = Settings()
    runtime = build(settings, embedder=HashEmbedder())
    prepare_knowledge(settings, runtime.services, import_path=False)
    if args.fit:  # the shipped calibration is for MiniLM
        kb = runtime.services.knowledge
        kb.use_calibration(
            fit_calibration(kb, load_queries(DEMO_QUESTIONS_PATH), 0.9, "faults"), persist=True
        )
    ready = asyncio.Event()

    async def run() -> None:
        task = asyncio.create_task(serve(runtime, "127.0.0.1", args.port, ready, signals=True))
        await ready.wait()
        print("ready", flush=True)
        await task

    asyncio.run(run())


@dataclass
class Deskbot:
    """One deskbot process."""

    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    fit: bool = False
    process: asyncio.subprocess.Process | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 60.0) -> Deskbot:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **self.env}
        stderr = self.log.open("ab") if self.log is not None else asyncio.subprocess.DEVNULL
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fault_world",
            f"--port={self.port}",
            *(["--fit"] if self.fit else []),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if line.strip() != b"ready":
            await self.kill()
            raise RuntimeError(f"deskbot did not start (see {self.log})")
        return self

    async def kill(self) -> None:
        """kill -9: nothing runs after this."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def terminate(self, within: float = 60.0) -> int:
        """SIGTERM, then wait for the drain; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)


# -- a TCP proxy in front of PostgreSQL ---------------------------------------------------------


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def up(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def down(self) -> None:
        """The database is gone: connections cut, new ones refused."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def pause(self) -> None:
        """The network stalls: connections stay open, nothing passes."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        self.resume()
        await self.down()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()
            if writer.transport.is_closing():
                return
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        writer.transport.abort()


if __name__ == "__main__":  # pragma: no cover
    main()
