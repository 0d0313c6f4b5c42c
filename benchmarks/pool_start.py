"""Starting a class server: does every kernel of a preheated pool come up? Unix sockets against loopback TCP.

    .venv/bin/python benchmarks/pool_start.py                  # 6 starts each, pool of 30, alternating
    .venv/bin/python benchmarks/pool_start.py --starts 3 --pool 10

Each start is what a teacher does before a class (``make demo POOL=30``): Voilà on loopback with the project's
configuration (``etc/jupyter``) and a pool of ``--pool`` preheated playground kernels, then a wait until every
kernel in it has done its start-up work (more than 1 CPU-s: importing torch alone takes about that) and fallen idle,
as ``benchmarks/load.py`` waits (at most 60 + 10 × pool seconds). Then the server is stopped.

The served configuration connects Voilà to its kernels over Unix sockets (``KernelManager.transport: ipc`` in
``etc/jupyter/voila.json``). The peer, in the same run, is the same server over loopback TCP, Jupyter's default.
Over TCP, jupyter_client picks a kernel's ports by binding port 0 and closing the socket; the kernel binds them a
moment later; meanwhile every socket bound to port 0 takes a port from the same range, among them each starting
kernel's IOPub event pipe (ipykernel binds it to a loopback port the system picks). When one takes a port just
handed out, that kernel dies with ``Address already in use`` and the preheated page waiting on it never arrives
(docs/benchmarks.md, "Classroom load"). For a failed start the script says who held the port.

For each start the script prints whether the pool came up whole, how long it took, and the kernel start errors in
the server's log; at the end, failed starts out of all, per transport. Nothing is asserted; the exit status is 1 when
a start over Unix sockets failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Server, cpu_time, kernel_processes, kernel_start_errors  # noqa: E402


def port_holders(log: str, server_pid: int) -> list[str]:
    """Who holds each port a kernel could not bind (``Address already in use (addr='tcp://127.0.0.1:PORT')``):
    the process and the socket's state (seen: another kernel of the same server, LISTEN)."""
    import re

    import psutil

    ports = sorted({int(p) for p in re.findall(r"Address already in use \(addr='tcp://[^:]+:(\d+)'\)", log)})
    kernels = {k.pid for k in kernel_processes(server_pid)} if ports else set()
    out = []
    for port in ports:
        found = []
        for c in psutil.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == port:
                try:
                    who = ("the Voilà server" if c.pid == server_pid else "a kernel of the server" if c.pid in kernels
                           else " ".join(psutil.Process(c.pid).cmdline()[:3]))
                except (psutil.Error, TypeError):
                    who = f"pid {c.pid}"
                peer = f" to port {c.raddr.port}" if c.raddr else ""
                found.append(f"{who}, {c.status}{peer}")
        out.append(f"port {port}: " + ("; ".join(found) or "free again"))
    return out


def one_start(transport: str, pool: int, keep_log: Path | None) -> dict:
    server = Server(cull_idle=600, cull_interval=60, fast=False, result_cache="on", pool=pool,
                    extra=[f"--KernelManager.transport={transport}"])
    try:
        log = server.log_text()
        kernels = server.kernels()
        return {"transport": transport, "warm": bool(server.pool_warm), "seconds": server.pool_fill_s,
                "kernels": len(kernels), "started": sum(1 for k in kernels if (cpu_time(k) or 0.0) > 1.0),
                "errors": kernel_start_errors(log),
                "holders": port_holders(log, server.proc.pid)}
    finally:
        server.close(keep_log)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=6, help="server starts per transport (default 6)")
    ap.add_argument("--pool", type=int, default=30, help="preheated playground kernels per start (default 30)")
    ap.add_argument("--transports", default="ipc,tcp", help="comma list, alternated (default ipc,tcp)")
    ap.add_argument("--keep-logs", type=Path, help="a folder for the server logs of failed starts")
    args = ap.parse_args(argv)
    if args.starts < 1 or args.pool < 1:
        raise SystemExit(f"--starts and --pool must be ≥ 1, got {args.starts} and {args.pool}")
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    if not transports or set(transports) - {"ipc", "tcp"}:
        raise SystemExit(f"--transports must name ipc and/or tcp, got {args.transports!r}")
    if args.keep_logs:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(args.starts):
        for transport in transports:
            log = args.keep_logs / f"start{i + 1}-{transport}.log" if args.keep_logs else None
            r = one_start(transport, args.pool, log)
            if log and r["warm"]:
                log.unlink(missing_ok=True)
            results.append(r)
            errors = ", ".join(f"{k} ×{v}" for k, v in r["errors"].items() if v) or "none"
            print(f"start {i + 1}, {transport}: pool {'whole' if r['warm'] else 'NOT whole'} after "
                  f"{r['seconds']:.0f} s, {r['started']}/{args.pool} kernels started; start errors in the log: "
                  f"{errors}", flush=True)
            for line in r["holders"]:
                print(f"  the port a kernel could not bind, {line}", flush=True)
            time.sleep(2)
    for transport in transports:
        mine = [r for r in results if r["transport"] == transport]
        failed = sum(not r["warm"] for r in mine)
        print(f"{transport}: {failed} of {len(mine)} starts left the pool of {args.pool} without every kernel")
    return 1 if any(not r["warm"] for r in results if r["transport"] == "ipc") else 0


if __name__ == "__main__":
    sys.exit(main())
