"""Several "hosts" on one machine: Linux network namespaces joined by a bridge.

    with make_hosts(3) as hosts:          # hosts.isolated says whether namespaces were made
        a, b, c = hosts                   # each has its own address (a.address: 10.77.N.1)
        server = a.popen(["luigid", "--address", a.address, ...])
        b.run([sys.executable, "-m", "hearpreprocess.runner", ...])

Each host is a network namespace with its loopback up and one end of a veth pair whose other end
is on a bridge in the root namespace, so the hosts reach each other by address (and the calling
process reaches them through the bridge's own address), and nothing else:
a server bound to one host's address is what the others see over a real network stack. Every
host also gets its own host name (a UTS namespace, through `unshare --uts`) where `unshare`
exists, so the workers luigid lists and the temporaries of hearcore.atomic name their host.

All hosts share the file system, as NFS would give several machines.

Names carry this process's pid and a counter (`hbn<pid>x<n>...`), so parallel test runs cannot
clash; namespaces and links left by a run that was killed are removed by the next run once their
pid is gone. On leaving the block every process started through a host is killed (its whole
process group), then the namespaces, veths and bridge are deleted, whatever the block raised.

Where namespaces cannot be made (not root, no `ip`, the kernel refuses), `make_hosts` yields
hosts that are plain processes on 127.0.0.1 instead, with `hosts.isolated` False and
`hosts.reason` saying why; `require_isolation=True` raises NamespacesUnavailable instead.
HEARBENCH_NO_NAMESPACES=1 forces the fallback (to test it where namespaces work).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Iterator, Sequence, overload

# Link names hold at most 15 characters: hbn + a 7-digit pid + x + counter + label + o|i.
PREFIX = "hbn"
# Hosts get 10.77.N.1, .2, ... and the bridge (this process's side, so a test can reach every
# host directly) 10.77.N.254, with N a /24 no route of this machine uses yet.
SUBNET_BASE = "10.77"
OBSERVER_OCTET = 254
# Set (to anything) to run the loopback fallback on a machine that could make namespaces.
DISABLE_ENV = "HEARBENCH_NO_NAMESPACES"
_NAME_RE = re.compile(rf"^{PREFIX}(?P<pid>\d+)x\d+")
_counter = itertools.count()
# Seconds a killed process group gets to go before cleanup moves on (SIGKILL is not refusable,
# but a process in uninterruptible I/O on a slow disk takes a moment to be reaped).
_KILL_WAIT_S = 10.0


# Run inside a host: connect until it works (exit 0) or the deadline passes (exit 1).
_PORT_PROBE = """
import socket, sys, time
deadline = time.monotonic() + {timeout}
while time.monotonic() < deadline:
    try:
        socket.create_connection(("{address}", {port}), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""


class NamespacesUnavailable(RuntimeError):
    """Network namespaces cannot be made here; the message says why."""


@dataclass
class Host:
    """One host: a network namespace (`netns`, None on the loopback fallback) and its address."""

    label: str
    address: str
    netns: str | None = None
    hostname: str | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` as run inside this host: in its namespace, under its host name."""
        prefix: list[str] = []
        if self.netns:
            prefix = ["ip", "netns", "exec", self.netns]
        if self.hostname:
            # unshare execs sh, sh sets the name and execs argv: one process, one pid throughout.
            prefix += ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.hostname]
        return prefix + [str(a) for a in argv]

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start `argv` in this host, in a process group of its own (so that `kill` reaches
        every process it forks); it is killed when the hosts are cleaned up."""
        proc = subprocess.Popen(self.command(argv), start_new_session=True, **kwargs)
        self.processes.append(proc)
        return proc

    def wait_for_port(self, address: str, port: int, timeout: float = 30.0) -> None:
        """Return once a TCP connection from this host to address:port succeeds (a server in
        another host is up and routed); TimeoutError naming both after `timeout` seconds."""
        probe = _PORT_PROBE.format(address=address, port=port, timeout=timeout)
        done = self.run([sys.executable, "-c", probe], timeout=timeout + 10)
        if done.returncode != 0:
            raise TimeoutError(
                f"host {self.label} could not connect to {address}:{port} within {timeout} s"
            )

    def run(self, argv: Sequence[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
        """Run `argv` in this host to its end; its output captured as text."""
        proc = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise TimeoutError(
                f"{argv[:4]} in host {self.label} ran past {timeout} s; its output:\n{out}\n{err}"
            ) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@dataclass
class Hosts:
    """The hosts made by `make_hosts`; iterate or index them (hosts[0] is "a")."""

    hosts: list[Host]
    isolated: bool
    reason: str = ""
    links: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    @overload
    def __getitem__(self, i: int) -> Host: ...

    @overload
    def __getitem__(self, i: slice) -> list[Host]: ...

    def __getitem__(self, i: int | slice) -> Host | list[Host]:
        return self.hosts[i]

    def describe(self) -> str:
        """One line for a test's output: how the hosts were made."""
        if self.isolated:
            where = ", ".join(f"{h.label}={h.netns}@{h.address}" for h in self.hosts)
            return f"hosts are network namespaces: {where}"
        return f"hosts are processes on 127.0.0.1, NOT network namespaces ({self.reason})"


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if os.environ.get(DISABLE_ENV):
        return f"{DISABLE_ENV} is set"
    if shutil.which("ip") is None:
        return "the `ip` command is missing (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"{PREFIX}{os.getpid()}x{next(_counter)}probe"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip() or made.returncode}"
    _ip("netns", "del", probe)
    return None


@contextlib.contextmanager
def make_hosts(count: int, require_isolation: bool = False) -> Iterator[Hosts]:
    """`count` hosts (at most 250) labelled a, b, c, ...; see the module docstring."""
    labels = [chr(ord("a") + i) for i in range(count)]
    remove_stale()
    hosts = _isolated_hosts(labels)
    if not hosts.isolated and require_isolation:
        raise NamespacesUnavailable(hosts.reason)
    try:
        yield hosts
    finally:
        for host in hosts:
            for proc in host.processes:
                kill_group(proc)
        _delete(hosts)


def _isolated_hosts(labels: list[str]) -> Hosts:
    """Namespace hosts, or loopback ones whose `reason` says what stopped the namespaces."""
    reason = unavailable_reason()
    if reason is None:
        hosts = Hosts([], True)
        try:
            _build_network(hosts, labels)
            return hosts
        except NamespacesUnavailable as e:  # e.g. veth or bridge refused in a container
            _delete(hosts)
            reason = str(e)
    return Hosts([Host(label, "127.0.0.1") for label in labels], False, reason)


def _build_network(hosts: Hosts, labels: list[str]) -> None:
    """A bridge in the root namespace and, per host, a namespace wired to it by a veth pair."""
    tag = f"{PREFIX}{os.getpid()}x{next(_counter)}"
    subnet = _unused_subnet()
    bridge = f"{tag}br"
    _check(_ip("link", "add", bridge, "type", "bridge"))
    hosts.links.append(bridge)
    _check(_ip("addr", "add", f"{subnet}.{OBSERVER_OCTET}/24", "dev", bridge))
    _check(_ip("link", "set", bridge, "up"))
    named = shutil.which("unshare") is not None
    for i, label in enumerate(labels, start=1):
        netns, outside, inside = f"{tag}{label}", f"{tag}{label}o", f"{tag}{label}i"
        host = Host(label, f"{subnet}.{i}", netns, f"host-{label}" if named else None)
        _check(_ip("netns", "add", netns))
        hosts.hosts.append(host)
        _check(_ip("link", "add", outside, "type", "veth", "peer", "name", inside))
        hosts.links.append(outside)
        _check(_ip("link", "set", inside, "netns", netns))
        _check(_ip("link", "set", outside, "master", bridge, "up"))
        _check(_ip("-n", netns, "link", "set", "lo", "up"))
        _check(_ip("-n", netns, "addr", "add", f"{host.address}/24", "dev", inside))
        _check(_ip("-n", netns, "link", "set", inside, "up"))


def _unused_subnet() -> str:
    """The first 10.77.N (from a pid-derived N, so parallel runs start apart) with no route."""
    routes = _ip("-4", "route", "show", "table", "all").stdout
    start = os.getpid() % 250
    for n in [(start + k) % 250 for k in range(250)]:
        if f"{SUBNET_BASE}.{n}.0/24" not in routes:
            return f"{SUBNET_BASE}.{n}"
    raise NamespacesUnavailable(f"every {SUBNET_BASE}.N.0/24 subnet is in use on this machine")


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process group `proc` leads (started with start_new_session) and reap
    it; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_WAIT_S)


def _delete(hosts: Hosts) -> None:
    """Delete what `_build_network` made: processes left in each namespace (started by a test's
    process behind our back, e.g. a daemon that forked away), the namespaces, then the links
    (a veth end inside a deleted namespace goes with it; deleting the outer end takes both)."""
    for host in hosts:
        if host.netns:
            _kill_namespace(host.netns)
    for link in reversed(hosts.links):
        _ip("link", "del", link)


def _kill_namespace(netns: str) -> None:
    pids = _ip("netns", "pids", netns).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", netns)


def remove_stale() -> list[str]:
    """Delete namespaces and links of earlier runs whose process is gone; returns their names."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        return []
    names = [line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()]
    links = re.findall(r"^\d+: ([^:@\s]+)", _ip("-o", "link", "show").stdout, re.M)
    removed = []
    for name in names + links:
        match = _NAME_RE.match(name)
        if not match or _pid_alive(int(match["pid"])):
            continue
        if name in names:
            _kill_namespace(name)
        else:
            _ip("link", "del", name)
        removed.append(name)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def _check(done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        raise NamespacesUnavailable(
            f"`{' '.join(done.args)}` failed: {done.stderr.strip() or done.returncode}"
        )
