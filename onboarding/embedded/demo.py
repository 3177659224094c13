"""``onboarding-demo`` (``make demo``): the whole product on one machine.

Starts the Temporal dev server (Web UI included, SQLite under ``var/``), the vendor sandbox, the
codec server and an onboarding worker; feeds the sample billing events (bundled with the
package, ``onboarding/data/samples/events/``); prints each run's outcome and the Temporal UI
address; stops everything cleanly on Ctrl-C.

Payloads are encrypted, as in production: the first run writes a key ring to
``var/codec.keys`` (reused after; ``ONBOARDING_CODEC_KEYS`` wins when set), Temporal stores
ciphertext, and the Web UI shows plain text through the codec server, which listens on
127.0.0.1 only and answers the UI's origin. ``--no-encryption`` runs without.

``--once`` uses a fresh state folder and free ports, and exits 0 as soon as every sample run
reached its expected state, non-zero otherwise. ``make demo-reset`` deletes ``var/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.service import RPCError

from onboarding.data import SAMPLES
from onboarding.domain.run import RunStatus
from onboarding.domain.triggers import EventError, from_stripe_event
from onboarding.embedded.devserver import DevServerError, dev_server
from onboarding.integrations.hubspot import HubSpotClient
from onboarding.integrations.settings import Vendors, VendorSettings
from onboarding.ledger.store import LEDGER_URL_ENV, Ledger
from onboarding.runtime import metrics
from onboarding.runtime.client import DEMO_NAMESPACE, TASK_QUEUE
from onboarding.runtime.logging import configure_logging
from onboarding.runtime.process import run_console_script
from onboarding.sandbox import run_in_thread
from onboarding.security.codec import (
    ENV_VAR,
    CodecKeyError,
    EncryptionCodec,
    codec_from_env,
    generate_key_spec,
)
from onboarding.security.codec_server import RunningCodecServer, create_codec_app, ui_origins
from starters.start import start_onboarding
from starters.stripe_event import read_event
from workers.main import build_worker
from workflows.onboarding import OnboardingWorkflow

#: The demo keeps its state (SQLite files, the key ring, the worker log) here, beside where it is
#: started.
STATE_DIR = Path("var")
#: The demo's key ring, in its state folder: one line, the value of ``ONBOARDING_CODEC_KEYS``.
KEYS_FILE = "codec.keys"


def demo_keys(data_dir: Path) -> tuple[str, str]:
    """The key ring of the demo, and where it comes from; created on the first run.

    ``ONBOARDING_CODEC_KEYS`` wins when set; otherwise the state folder's key file, written
    (readable by its owner only) when missing.
    """
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured, ENV_VAR
    path = data_dir / KEYS_FILE
    if not path.exists():
        spec = generate_key_spec(f"demo-{datetime.now(UTC):%Y%m%d}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(spec + "\n")
    return path.read_text(encoding="ascii").strip(), str(path)


async def seed_crm(crm: HubSpotClient, seed: dict[str, Any]) -> None:
    """Create the pre-existing CRM companies of the samples, once."""
    for company in seed["companies"]:
        match = {"name": company["name"], "domain": company["domain"]}
        if not await crm.search("companies", match, ["name"]):
            await crm.create("companies", company)


async def run_status(client: Client, transaction_id: str) -> RunStatus | None:
    """The run's status query, or None when it cannot be read yet."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, transaction_id)
    try:
        return await handle.query(OnboardingWorkflow.status)
    except RPCError:
        return None


def reached(status: RunStatus | None, expected: dict[str, Any]) -> bool:
    """Whether a run is where the samples say it should end up."""
    if status is None or status.stage.value != expected["stage"]:
        return False
    awaiting = expected.get("awaiting")
    if awaiting and not (status.awaiting or "").startswith(awaiting):
        return False
    category = expected.get("exception")
    if category:
        return status.open_exception is not None and status.open_exception.category == category
    return status.open_exception is None


def describe(status: RunStatus | None) -> str:
    """One line about a run for the console."""
    if status is None:
        return "not visible yet"
    line = f"{status.stage.value:<13} {status.customer_name or '?'} ({status.tier or '-'})"
    if status.open_exception:
        item = status.open_exception
        line += f"  PARKED {item.category.value} at {item.step}, owner {item.owner}"
    elif status.awaiting:
        line += f"  WAITING for {status.awaiting}"
    elif status.stage.value == "live":
        line += f"  company {status.linked.crm_company_id}, project {status.linked.project_gid}"
    return line


async def demo(args: argparse.Namespace) -> int:
    """Run the demo; the exit status of ``--once``."""
    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="onboarding-demo-")) if args.once else STATE_DIR
    runtime = None
    if args.metrics_address:
        try:
            runtime = metrics.prometheus_runtime(args.metrics_address)
        except Exception as exc:  # the port is taken
            print(
                f"onboarding-demo: cannot serve metrics on {args.metrics_address}: {exc}",
                file=sys.stderr,
            )
            return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = (data_dir / "worker.log").open("a", encoding="utf-8")
    configure_logging(args.log_level, stream=log_file)
    expected: dict[str, dict[str, Any]] = json.loads((SAMPLES / "expected.json").read_text())

    codec: EncryptionCodec | None = None
    codec_server: RunningCodecServer | None = None
    keys_from = ""
    if not args.no_encryption:
        try:
            spec, keys_from = demo_keys(data_dir)
            os.environ[ENV_VAR] = spec  # this process's converter (worker, starts) encrypts
            codec = codec_from_env()
        except (CodecKeyError, OSError) as exc:
            print(f"onboarding-demo: payload encryption: {exc}", file=sys.stderr)
            log_file.close()
            return 1
        try:
            codec_server = RunningCodecServer(port=args.codec_port)
        except OSError as exc:
            print(
                f"onboarding-demo: the codec server cannot listen on 127.0.0.1:{args.codec_port}: "
                f"{exc.strerror}; pass --codec-port (or --no-encryption)",
                file=sys.stderr,
            )
            log_file.close()
            return 1
    sandbox = run_in_thread(str(data_dir / "sandbox.sqlite3"), port=args.sandbox_port)
    settings = VendorSettings.for_sandbox(sandbox.base_url)
    vendors = Vendors(settings, on_call=metrics.record_vendor_call)
    # The ledger lives with the rest of the demo's state, unless ONBOARDING_LEDGER_URL says.
    ledger = Ledger(os.environ.get(LEDGER_URL_ENV) or f"sqlite:///{data_dir / 'ledger.sqlite3'}")
    try:
        async with dev_server(
            db_file=data_dir / "temporal.sqlite3",
            namespace=DEMO_NAMESPACE,
            port=args.port,
            ui_port=args.ui_port,
            runtime=runtime,
            ui_codec_endpoint=codec_server.url if codec_server else None,
        ) as env:
            client = env.client
            target = client.service_client.config.target_host
            host, _, grpc_port = target.rpartition(":")
            ui_port = args.ui_port or int(grpc_port) + 1000
            ui = f"http://{host}:{ui_port}/namespaces/{DEMO_NAMESPACE}/workflows"
            print(f"Temporal dev server  {target} (namespace {DEMO_NAMESPACE}, data in {data_dir})")
            print(
                f"Vendor sandbox       {sandbox.base_url} (state: {sandbox.base_url}/_admin/state)"
            )
            print(f"Temporal UI          {ui}")
            if codec_server is not None and codec is not None:
                codec_server.start(
                    create_codec_app(codec, tokens=None, cors_origins=ui_origins(ui_port))
                )
                print(f"Payloads             encrypted; key ring from {keys_from}")
                print(
                    f"Codec server         {codec_server.url} (the UI decodes through it; "
                    f"local only, for {' and '.join(ui_origins(ui_port))})"
                )
            else:
                print("Payloads             not encrypted (--no-encryption)")
            print(f"Worker logs (JSON)   {data_dir / 'worker.log'}")
            if args.metrics_address:
                print(f"Worker metrics       http://{args.metrics_address}/metrics")
            await seed_crm(vendors.crm, json.loads((SAMPLES / "crm-seed.json").read_text()))
            print(f"Audit ledger         {ledger.url}")
            worker = build_worker(client, vendors, task_queue=TASK_QUEUE, ledger=ledger)
            async with worker:
                transactions: dict[str, str] = {}
                events = (SAMPLES / "events").iterdir()
                for path in sorted(
                    (e for e in events if e.name.endswith(".json")), key=lambda e: e.name
                ):
                    try:
                        transaction_id, source, payload = from_stripe_event(read_event(path))
                    except EventError as exc:
                        print(f"  {path.name}: rejected: {exc}")
                        continue
                    outcome = await start_onboarding(
                        client, transaction_id, source, payload, task_queue=TASK_QUEUE
                    )
                    transactions[path.name] = transaction_id
                    print(f"  {path.name:<38} -> {transaction_id} ({outcome.state})")
                ok = await watch(client, transactions, expected, timeout=args.timeout)
                if args.once:
                    return 0 if ok else 1
                keys_line = ""
                if codec is not None:
                    keys_line = (
                        f'  export {ENV_VAR}="$(cat {data_dir / KEYS_FILE})"\n'
                        if keys_from != ENV_VAR
                        else f"  (with the same {ENV_VAR})\n"
                    )
                print(
                    f"\nRuns keep going; open {ui}\n"
                    f"Parked runs wait for a person: in another terminal,\n"
                    f"  export TEMPORAL_ADDRESS={target} TEMPORAL_NAMESPACE={DEMO_NAMESPACE}\n"
                    f"{keys_line}"
                    f"  .venv/bin/onboarding queue      (the README's operator guide resolves them)\n"
                    f"Press Ctrl-C to stop.",
                    flush=True,
                )
                await wait_for_interrupt()
                return 0
    except DevServerError as exc:
        print(f"onboarding-demo: {exc}", file=sys.stderr)
        return 1
    finally:
        await vendors.aclose()
        ledger.close()
        sandbox.stop()
        if codec_server is not None:
            codec_server.stop()
        log_file.close()


async def watch(
    client: Client,
    transactions: dict[str, str],
    expected: dict[str, dict[str, Any]],
    *,
    timeout: float,
) -> bool:
    """Poll every sample run until each is where it should be or the deadline passes."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, RunStatus | None] = {}
    while True:
        for name, transaction_id in transactions.items():
            statuses[name] = await run_status(client, transaction_id)
        done = all(reached(statuses[n], expected.get(n, {"stage": "live"})) for n in transactions)
        if done or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    print("\nOutcomes:")
    for name, transaction_id in transactions.items():
        want = expected.get(name, {"stage": "live"})
        mark = "ok " if reached(statuses[name], want) else "NOT"
        print(f"  [{mark}] {transaction_id:<32} {describe(statuses[name])}")
    if not done:
        print(f"\nSome runs did not reach their expected state within {timeout:.0f}s.")
    return done


async def wait_for_interrupt() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("\nStopping worker, dev server and sandbox...")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``onboarding-demo``."""
    parser = argparse.ArgumentParser(
        prog="onboarding-demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="exit 0 once the sample runs reach their expected states",
    )
    parser.add_argument(
        "--data-dir", help="state folder (default: var/, or a fresh one with --once)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="Temporal gRPC port (default: 7233, or a free one with --once)",
    )
    parser.add_argument(
        "--ui-port", type=int, default=None, help="Web UI port (default: gRPC+1000)"
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=None,
        help="sandbox port (default: 8765, or a free one with --once)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the sample runs (default: 60)",
    )
    parser.add_argument(
        "--metrics-address",
        default=metrics.metrics_address(),
        help="host:port to serve the worker's Prometheus metrics on (default: "
        f"{metrics.METRICS_ADDRESS_ENV}, or 127.0.0.1:{metrics.DEFAULT_METRICS_PORT} without "
        "--once; empty: none)",
    )
    parser.add_argument(
        "--codec-port",
        type=int,
        default=None,
        help="codec server port (default: 8081, or a free one with --once)",
    )
    parser.add_argument(
        "--no-encryption",
        action="store_true",
        help="store payloads in clear (no key ring, no codec server)",
    )
    parser.add_argument("--log-level", default="INFO", help="worker log level (default: INFO)")
    args = parser.parse_args(argv)
    if not args.once:
        if args.metrics_address is None:
            args.metrics_address = f"127.0.0.1:{metrics.DEFAULT_METRICS_PORT}"
        args.port = args.port or 7233
        args.sandbox_port = args.sandbox_port if args.sandbox_port is not None else 8765
        args.codec_port = args.codec_port if args.codec_port is not None else 8081
    else:
        args.sandbox_port = args.sandbox_port or 0
        args.codec_port = args.codec_port or 0
    try:
        return asyncio.run(demo(args))
    except KeyboardInterrupt:
        return 130


def script() -> NoReturn:
    """The installed ``onboarding-demo`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
