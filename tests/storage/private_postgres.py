"""A PostgreSQL cluster of the test's own, on a free port, safe to crash and restart."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.services import free_port, require

BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` as the ``postgres`` user in a temporary directory."""

    def __init__(self) -> None:
        require((BIN / "initdb").exists() and shutil.which("runuser") is not None, "PostgreSQL 15 binaries")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="chatopt-pg-"))
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=40"
        self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def crash(self) -> None:
        """Stop at once, like a power cut for the server process (recovery runs on the next start)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart_after_crash(self) -> None:
        self.crash()
        self.start()

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
