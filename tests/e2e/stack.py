"""The whole platform as real processes for end-to-end tests: four services (API and worker each), the local
Twilio-compatible server and the SMTP sink, isolated by a topic prefix and fresh schemas on the real broker and
database. Logs go to `artifacts/e2e-logs/<run>/` (read by the personal-data test)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.support import ROOT, drop_schema, free_port, new_schema, new_topic_prefix, unique

SERVICES = ("intake", "directory", "crisis_center", "notifier")
HOTLINES = "+3225011100,+3225011101,+3225011102"
#: What each worker logs once started, and its consumer group (after the topic prefix).
WORKER_STARTED = {"intake": "intake_worker_started", "directory": "directory_worker_started",
                  "crisis_center": "crisis_worker_started", "notifier": "notifier_worker_started"}
WORKER_GROUPS = {"intake": "intake", "directory": "directory", "crisis_center": "crisis-center",
                 "notifier": "notifier"}




@dataclass
class Stack:
    prefix: str
    schemas: dict[str, str]
    ports: dict[str, int]
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_offsets: dict[str, int] = field(default_factory=dict)  # where each process's current run begins

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env_for(self, service: str | None) -> dict[str, str]:
        # `{intake}` in an extra value stands for intake's URL (known once the ports are chosen)
        extra = {k: v.replace("{intake}", self.url("intake")) for k, v in self.extra_env.items()}
        env = {**os.environ, "KAFKA_TOPIC_PREFIX": self.prefix, "LOG_LEVEL": "INFO",
               "TWILIO_API_BASE": self.url("twilio"), "SMTP_PORT": str(self.ports["smtp"]),
               "HOTLINE_NUMBERS": HOTLINES, "PYTHONUNBUFFERED": "1", **extra}
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
        path = self.log_dir / f"{name}.log"
        self.log_offsets[name] = path.stat().st_size if path.exists() else 0
        log = path.open("ab")
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

    def service_logs(self) -> list[Path]:
        """The logs of our services' processes (not of the Twilio and SMTP stand-ins, which play the outside)."""
        return [self.log_dir / f"{service}-{mode}.log" for service in SERVICES for mode in ("api", "worker")
                if (self.log_dir / f"{service}-{mode}.log").exists()]

    def bootstrap(self) -> str:
        return self.env_for(None)["KAFKA_BOOTSTRAP_SERVERS"]

    def _current_log(self, name: str) -> str:
        with (self.log_dir / f"{name}.log").open("rb") as log:
            log.seek(self.log_offsets.get(name, 0))
            return log.read().decode(errors="replace")

    def _check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self._current_log(name)[-3000:]}")

    async def _group_stable(self, group: str) -> bool:
        """The worker's consumer group has members and is not rebalancing (a SIGKILLed member has left it)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap(), request_timeout_ms=5000)
        try:
            await asyncio.wait_for(admin.start(), 10)
            response = (await asyncio.wait_for(admin.describe_consumer_groups([group]), 10))[0]
            _, _, state, _, _, members, *_ = response.groups[0]
            return bool(state == "Stable" and members)
        except (KafkaError, OSError, TimeoutError):
            return False
        finally:
            await admin.close()

    async def _ready_once(self, client: httpx.AsyncClient, name: str) -> bool:
        service, _, mode = name.rpartition("-")
        if name in ("twilio", "smtp"):
            url = self.url("twilio") + "/healthz" if name == "twilio" else self.url("smtp_http") + "/messages"
            try:
                return (await client.get(url)).status_code == 200
            except httpx.TransportError:
                return False
        if mode == "api":
            try:
                return (await client.get(self.url(service) + "/readyz")).status_code == 200
            except httpx.TransportError:
                return False
        marker = WORKER_STARTED[service]
        return marker in self._current_log(name) and await self._group_stable(self.prefix + WORKER_GROUPS[service])

    async def wait_process_ready(self, name: str, timeout: float = 180.0) -> float:
        """Wait until one process serves: an API's /readyz answers 200; a worker logged that it started and its
        consumer group is stable with members. Returns the seconds waited."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=3) as client:
            while not await self._ready_once(client, name):
                self._check_alive(name)
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"{name} not ready within {timeout}s:\n{self._current_log(name)[-3000:]}")
                await asyncio.sleep(0.3)
        return time.monotonic() - started

    async def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        for name in list(self.procs):
            await self.wait_process_ready(name, timeout=max(1.0, deadline - time.monotonic()))


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
