"""The whole platform as real processes for end-to-end tests: four services (API and worker each), the local
Twilio-compatible server and the SMTP sink, isolated by a topic prefix and fresh schemas on the real broker and
database. Logs go to `artifacts/e2e-logs/<run>/` (read by the personal-data test)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import ROOT, drop_schema, new_schema, new_topic_prefix, unique

SERVICES = ("intake", "directory", "crisis_center", "notifier")
HOTLINES = "+3225011100,+3225011101,+3225011102"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    prefix: str
    schemas: dict[str, str]
    ports: dict[str, int]
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env_for(self, service: str | None) -> dict[str, str]:
        env = {**os.environ, "KAFKA_TOPIC_PREFIX": self.prefix, "LOG_LEVEL": "INFO",
               "TWILIO_API_BASE": self.url("twilio"), "SMTP_PORT": str(self.ports["smtp"]),
               "HOTLINE_NUMBERS": HOTLINES, "PYTHONUNBUFFERED": "1", **self.extra_env}
        if service is not None:
            env |= {"DATABASE_SCHEMA": self.schemas[service], "HTTP_PORT": str(self.ports[service]),
                    "PUBLIC_BASE_URL": self.url(service), "FAUST_APP_ID": f"{self.prefix}crisis-center",
                    "FAUST_DATA_DIR": str(self.log_dir / "faust-data")}
        return env

    def commands(self) -> dict[str, tuple[list[str], str | None]]:
        py = sys.executable
        cmds: dict[str, tuple[list[str], str | None]] = {
            "twilio": ([py, "-m", "services.notifier.dev.twilio_server", "--port", str(self.ports["twilio"])], None),
            "smtp": ([py, "-m", "services.notifier.dev.smtp_sink", "--port", str(self.ports["smtp"]),
                      "--http-port", str(self.ports["smtp_http"])], None),
        }
        for service in SERVICES:
            for mode in ("api", "worker"):
                cmds[f"{service}-{mode}"] = ([py, "-m", f"services.{service}", mode], service)
        return cmds

    def start(self, name: str) -> None:
        argv, service = self.commands()[name]
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env_for(service), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3) as client:
            for service in SERVICES:
                while True:
                    for name, proc in self.procs.items():
                        if proc.poll() is not None:
                            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
                    try:
                        if (await client.get(self.url(service) + "/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{service} not ready within {timeout}s")
                    await asyncio.sleep(0.3)


async def start_stack(extra_env: dict[str, str] | None = None) -> Stack:
    run = unique("run-")
    log_dir = ROOT / "artifacts" / "e2e-logs" / run
    log_dir.mkdir(parents=True, exist_ok=True)
    prefix = await new_topic_prefix()
    schemas = {service: await new_schema(service) for service in SERVICES}
    ports = {name: free_port() for name in (*SERVICES, "twilio", "smtp", "smtp_http")}
    stack = Stack(prefix=prefix, schemas=schemas, ports=ports, log_dir=log_dir, extra_env=extra_env or {})
    for name in stack.commands():
        stack.start(name)
    try:
        await stack.wait_ready()
    except Exception:
        stack.stop_all()
        raise
    return stack


async def stop_stack(stack: Stack) -> None:
    stack.stop_all()
    for schema in stack.schemas.values():
        await drop_schema(schema)
