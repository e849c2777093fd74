"""Zone-routing proof harness: three zones and a region as network namespaces on one bridge, an amq
cluster and real Kafka clients (confluent-kafka) inside them, and the kernel (nftables) counting
the bytes that cross between zone subnets.

Layout (every name carries this process's pid, so parallel or crashed runs never collide):
  amqzr-a-PID  10.231.1.1/16  controller (:7070) + 2 agents (Kafka :9092/:9093, admin :9192/:9193)
  amqzr-b-PID  10.231.2.1/16  2 agents
  amqzr-c-PID  10.231.3.1/16  2 agents
  amqzr-region-PID 10.231.9.1/16 SeaweedFS S3 (:8333)
Each namespace has one veth into a bridge in the root namespace; the bridge has no address, so
nothing outside the test's namespaces is reachable from them. A `bridge`-family nftables table
in the root namespace counts, on the bridge's forward hook, every IPv4 packet between each
ordered pair of subnets: a packet from one namespace to another crosses the bridge exactly once,
so it is counted exactly once. Zone<->region traffic is S3, counted separately for information.
The counters add up skb lengths (IP header included): veth hands the bridge TSO/GSO packets, so a
large TCP segment train counts its payload in full but its IP/TCP headers once, not per wire
packet; payload bytes, which the thresholds are about, are exact. Inter-zone bytes are also split
by service port (controller :7070, Kafka ports, admin ports, other) so control traffic is visible.

Segmentation offloads (TSO, GSO, GRO) are turned off on every veth end (ethtool), so the bridge
sees packets as a real network carries them: one IP and TCP header per segment of at most the MTU.

Traffic report (issue: `amq traffic report` checked against the kernel): the kernel counters are
also read at minute boundaries (the report's buckets are minutes), one before the first phase and
one after each; for every window between two marks, `amq traffic report --by zone-pair --format
json` must agree with the kernel within 2 % for every ordered pair of zones, on-the-wire bytes
(agents and controller count IP and TCP headers from TCP_INFO). In phase c1 the client's zone is
unknown to amq, so there the kernel's inter-zone bytes must lie between the report's inter-zone
bytes and its inter-zone plus unknown-zone bytes.

Phases (--phases, default a,b,c,d):
  a  routing on  (topic R, route-enable): inter-zone bytes <= 1 % of client payload bytes
  b  routing off (topic K): inter-zone bytes >= 50 % of client payload bytes
  c  untagged client in zone b on R: works as classic Kafka; then `amq zone set-cidrs` for every
     zone and the same client again: inter-zone bytes <= 1 %
  d  toggle: producers in every zone on R while routing is disabled and re-enabled: no loss, no
     duplicate
Prints a table per phase and ends with PASS, or FAIL and the reasons (exit 1). Exits 2 at once if
namespaces cannot be created (not root, no kernel support): this test is never skipped.

Usage: zone_routing_test.py --amq /path/to/amq --python /path/to/venv/bin/python
         [--weed /path/to/weed] [--phases a,b,c,d] [--mb 50] [--value-size 16384]
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Conformance"))
from waiting import until  # noqa: E402  (shared deadline helper, Tests/Conformance/waiting.py)

PID = os.getpid()
ZONES = ["a", "b", "c"]
SUBNET = {"a": "10.231.1", "b": "10.231.2", "c": "10.231.3", "region": "10.231.9"}
ADDR = {z: SUBNET[z] + ".1" for z in SUBNET}
NS = {z: "amqzr-%s-%d" % (z, PID) for z in SUBNET}
BRIDGE = "amqzr%d" % PID  # interface names are limited to 15 characters
TABLE = "amqzr%d" % PID
CONTROLLER_PORT = 7070
KAFKA_PORTS = [9092, 9093]
ADMIN_PORTS = [9192, 9193]
RPC_PORTS = [9292, 9293]
S3_PORT = 8333
BUCKET = "amq-zr"
WEED_BASE = 20000 + (PID % 4000) * 10
PARTITIONS = 6
# S3TestServer.credentialsEnvironment in Tests/AMQTestSupport/S3TestServers.swift
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "amqtest", "AWS_SECRET_ACCESS_KEY": "amqtestsecret"}


class Harness:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="amqzr-%d-" % PID)
        self.procs = []          # (name, Popen)
        self.links = []          # root-namespace veth ends
        self.namespaces = []
        self.table = False
        self.bridge = False
        self.cleaned = False
        self.env = dict(os.environ, AMQ_DATA_DIR=os.path.join(self.tmp, "amq"), **CREDENTIALS)
        self.env.pop("AMQ_DB", None)
        self.env.pop("AMQ_CLUSTER", None)
        self.env.pop("AMQ_BOOTSTRAP", None)
        os.makedirs(self.env["AMQ_DATA_DIR"])

    # ---- processes -------------------------------------------------------------------------

    def run(self, cmd, check=True, timeout=60, ns=None, quiet=False):
        if ns:
            cmd = ["ip", "netns", "exec", NS[ns]] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and r.returncode != 0:
            raise RuntimeError("%s exited %d:\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def spawn(self, name, ns, cmd):
        """Starts cmd in zone namespace ns in its own session, output to files in the temp dir.
        `ip netns exec` execs the command, so the pid we keep is the command's own."""
        out = open(os.path.join(self.tmp, name + ".out"), "w")
        err = open(os.path.join(self.tmp, name + ".err"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", NS[ns]] + cmd, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        out.close()
        err.close()
        self.procs.append((name, p))
        return p

    def output(self, name, stream="out"):
        try:
            with open(os.path.join(self.tmp, "%s.%s" % (name, stream))) as f:
                return f.read()
        except OSError:
            return ""

    def json_lines(self, name):
        lines = []
        for line in self.output(name).splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def wait_ready_line(self, name, proc, timeout):
        def ready():
            if proc.poll() is not None:
                raise RuntimeError("%s exited %s before it was ready:\n%s\n%s" % (
                    name, proc.returncode, self.output(name)[-2000:], self.output(name, "err")[-3000:]))
            return self.json_lines(name)
        return until(ready, "%s's ready line" % name, timeout=timeout)[0]

    def wait_exit(self, name, proc, timeout):
        until(lambda: proc.poll() is not None, "%s to finish" % name, timeout=timeout)
        return proc.returncode

    def stop(self, proc, timeout=10):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def worker(self, name, zone, sub, *extra):
        return self.spawn(name, zone, [self.args.python, os.path.join(HERE, "zone_worker.py"), sub] + list(extra))

    def amq(self, *argv, check=True, timeout=60):
        # Admin commands run in zone a, beside the controller: loopback, never counted.
        return self.run([self.args.amq] + list(argv), check=check, timeout=timeout, ns="a")

    # ---- network ---------------------------------------------------------------------------

    @staticmethod
    def remove_stale():
        """Removes what a run killed with SIGKILL (no clean-up possible) left behind: only names
        of this script's own pattern whose pid is no longer alive."""
        import re
        def dead(pid):
            try:
                os.kill(int(pid), 0)
                return False
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for ns, pid in re.findall(r"^(amqzr-(?:a|b|c|region)-(\d+))\b", listed, re.M):
            if dead(pid):
                for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        for name, pid in re.findall(r"^\d+: ((?:amqzr|zr)(\d+)[a-z]?)[@:]", links, re.M):
            if dead(pid):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        tables = subprocess.run(["nft", "list", "tables", "bridge"], capture_output=True, text=True).stdout
        for name, pid in re.findall(r"^table bridge (amqzr(\d+))$", tables, re.M):
            if dead(pid):
                subprocess.run(["nft", "delete", "table", "bridge", name], capture_output=True)

    def build_network(self):
        if os.geteuid() != 0:
            raise SetupImpossible("must run as root to create network namespaces (euid %d)" % os.geteuid())
        for tool in ("ip", "nft", "ethtool"):
            if shutil.which(tool) is None:
                raise SetupImpossible("`%s` is not installed (scripts/test.sh installs iproute2, nftables and ethtool)" % tool)
        self.remove_stale()
        r = self.run(["ip", "netns", "add", NS["a"]], check=False)
        if r.returncode != 0:
            raise SetupImpossible("cannot create a network namespace: %s" % r.stderr.strip())
        self.namespaces.append(NS["a"])
        r = self.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=False)
        if r.returncode != 0:
            raise SetupImpossible("cannot create a bridge: %s" % r.stderr.strip())
        self.bridge = True
        self.run(["ip", "link", "set", BRIDGE, "up"])
        for z in ["a", "b", "c", "region"]:
            if z != "a":
                self.run(["ip", "netns", "add", NS[z]])
                self.namespaces.append(NS[z])
            host, inner = "zr%d%s" % (PID, z[0] if z != "region" else "r"), "zr%di" % PID
            self.run(["ip", "link", "add", host, "type", "veth", "peer", "name", inner])
            self.links.append(host)
            self.run(["ip", "link", "set", inner, "netns", NS[z]])
            self.run(["ip", "link", "set", host, "master", BRIDGE])
            self.run(["ip", "link", "set", host, "up"])
            self.run(["ip", "link", "set", inner, "name", "eth0"], ns=z)
            # /16 so every namespace is on-link to every other through the bridge; no gateway.
            self.run(["ip", "addr", "add", ADDR[z] + "/16", "dev", "eth0"], ns=z)
            self.run(["ip", "link", "set", "eth0", "up"], ns=z)
            self.run(["ip", "link", "set", "lo", "up"], ns=z)
            # Wire-sized packets on the bridge: no segmentation or receive offloads on either end.
            for dev, where in (("eth0", z), (host, None)):
                self.run(["ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"], ns=where)
        self.build_counters()
        # Every namespace reaches every other (ARP through the bridge) before anything starts.
        for z in ["b", "c", "region"]:
            until(lambda z=z: self.run(["ping", "-c", "1", "-W", "1", ADDR[z]], ns="a", check=False).returncode == 0,
                  "zone a to reach %s" % z, timeout=20) if shutil.which("ping") else None

    def pairs(self):
        names = ["a", "b", "c", "region"]
        return [(s, d) for s in names for d in names if s != d]

    def build_counters(self):
        # Only packets entering from this run's veth ends: another run's bridge (same subnets,
        # other namespaces) passes the same hook and must not be counted here.
        ports = "{ %s }" % ", ".join('"%s"' % link for link in self.links)
        # Inter-zone bytes by service, so the lead can tell client traffic from control traffic:
        # both ends in zone subnets (a packet between two zone subnets is always inter-zone, as
        # each zone is one namespace), classified by either end's port.
        zones = "{ %s }" % ", ".join("%s.0/24" % SUBNET[z] for z in ZONES)
        services = [("x_controller", "{ %d }" % CONTROLLER_PORT), ("x_kafka", "{ %s }" % ", ".join(map(str, KAFKA_PORTS))),
                    ("x_admin", "{ %s }" % ", ".join(map(str, ADMIN_PORTS))),
                    ("x_rpc", "{ %s }" % ", ".join(map(str, RPC_PORTS)))]
        service_rules = "".join("    iifname %s ip saddr %s ip daddr %s tcp %s %s counter name %s\n" % (
            ports, zones, zones, direction, port_set, name) for name, port_set in services for direction in ("dport", "sport"))
        counters = "".join("  counter %s { }\n" % name for name, _ in services)
        counters += "".join("  counter %s_%s { }\n" % p for p in self.pairs())
        rules = "".join("    iifname %s ip saddr %s.0/24 ip daddr %s.0/24 counter name %s_%s accept\n" % (
            ports, SUBNET[s], SUBNET[d], s, d) for s, d in self.pairs())
        ruleset = ("table bridge %s {\n%s  counter other { }\n"
                   "  chain forward {\n    type filter hook forward priority 0; policy accept;\n"
                   "%s%s    iifname %s counter name other\n  }\n}\n") % (TABLE, counters, service_rules, rules, ports)
        path = os.path.join(self.tmp, "counters.nft")
        with open(path, "w") as f:
            f.write(ruleset)
        r = self.run(["nft", "-f", path], check=False)
        if r.returncode != 0:
            raise SetupImpossible("cannot create the nftables bridge table: %s" % r.stderr.strip())
        self.table = True

    def counters(self):
        r = self.run(["nft", "-j", "list", "counters", "table", "bridge", TABLE])
        out = {}
        for item in json.loads(r.stdout)["nftables"]:
            c = item.get("counter")
            if c:
                out[c["name"]] = c["bytes"]
        return out

    # ---- cleanup ---------------------------------------------------------------------------

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        # A second signal must not cut the clean-up short.
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        for name, p in reversed(self.procs):
            try:
                self.stop(p, timeout=5)
            except Exception as e:  # keep going: the rest must still be removed
                print("cleanup: stopping %s: %s" % (name, e), file=sys.stderr)
        # Anything still inside our namespaces was started by this run (they are ours alone).
        for ns in self.namespaces:
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        if self.table:
            subprocess.run(["nft", "delete", "table", "bridge", TABLE], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        if self.bridge:
            subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if self.args.keep_logs:
            print("logs kept in", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- cluster ---------------------------------------------------------------------------

    def start_cluster(self):
        t0 = time.time()
        weed_dir = os.path.join(self.tmp, "weed")
        os.makedirs(weed_dir + "/data")
        # As Tests/AMQTestSupport/S3TestServers.swift starts it, but bound to the region's
        # address; the namespace is fresh, so fixed ports cannot collide with anything.
        ip = ADDR["region"]
        # SeaweedFS also opens unix sockets named by gRPC port in /tmp (shared by every
        # namespace), so its ports come from this run's pid rather than being fixed.
        port = [WEED_BASE + i for i in range(7)]
        self.spawn("weed", "region", [
            self.args.weed, "server", "-dir=%s/data" % weed_dir, "-ip=%s" % ip, "-ip.bind=%s" % ip,
            "-master.port=%d" % port[0], "-master.port.grpc=%d" % port[1], "-volume.port=%d" % port[2],
            "-volume.port.grpc=%d" % port[3], "-filer.port=%d" % port[4], "-filer.port.grpc=%d" % port[5],
            "-s3", "-s3.port=%d" % S3_PORT, "-s3.port.grpc=%d" % port[6],
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=0", "-master.volumeSizeLimitMB=64",
        ])
        p = self.worker("s3init", "region", "s3init", "--endpoint", "http://%s:%d" % (ip, S3_PORT),
                        "--bucket", BUCKET, "--timeout", "90")
        if self.wait_exit("s3init", p, 100) != 0:
            raise RuntimeError("SeaweedFS never accepted writes:\n%s\n%s" % (
                self.output("s3init", "err")[-2000:], self.output("weed", "err")[-2000:]))
        t_s3 = time.time()
        self.amq("cluster", "create", "zr", "--zones", "a,b,c", "--agents-per-zone", "2",
                 "--object-store", "s3://%s/zr?endpoint=http://%s:%d" % (BUCKET, ip, S3_PORT))
        nodes = json.loads(self.amq("node", "list", "--format", "json").stdout)
        info = json.loads(self.amq("cluster", "describe", "zr", "--format", "json").stdout)
        secret = info.get("secretFile") or info.get("secret_file")
        self.secret_file = secret
        db = os.path.join(self.env["AMQ_DATA_DIR"], "amq.db")
        ctl = self.spawn("controller", "a", [
            self.args.amq, "controller", "run", "--db", db, "--cluster", "zr", "--zone", "a",
            "--listen", "%s:%d" % (ADDR["a"], CONTROLLER_PORT), "--secret-file", secret])
        self.wait_ready_line("controller", ctl, 60)
        url = "http://%s:%d" % (ADDR["a"], CONTROLLER_PORT)
        by_zone = {z: sorted(n["id"] if "id" in n else n["nodeId"] for n in nodes if n["zone"] == z) for z in ZONES}
        agents = []
        for z in ZONES:
            if len(by_zone[z]) != 2:
                raise RuntimeError("expected 2 nodes in zone %s, topology has %s" % (z, nodes))
            for i, node in enumerate(by_zone[z]):
                name = "agent-%s%d" % (z, i)
                agents.append((name, self.spawn(name, z, [
                    self.args.amq, "agent", "run", "--controller", url, "--zone", z, "--node-id", str(node),
                    "--secret-file", secret, "--host", ADDR[z], "--advertised-host", ADDR[z],
                    "--kafka-port", str(KAFKA_PORTS[i]), "--admin-port", str(ADMIN_PORTS[i]),
                    "--rpc-port", str(RPC_PORTS[i])])))
        for name, p in agents:
            self.wait_ready_line(name, p, 90)
        print("cluster up: SeaweedFS %.1fs, controller + 6 agents %.1fs" % (t_s3 - t0, time.time() - t_s3), flush=True)

    def bootstrap(self, zone):
        return ",".join("%s:%d" % (ADDR[zone], port) for port in KAFKA_PORTS)

    def wait_routing(self, topic, enabled):
        """Agents follow the topology by long-poll (README): wait until every agent reports the
        switch, each zone's agents asked from inside that zone (no inter-zone bytes)."""
        procs = []
        for z in ZONES:
            name = "routing-%s-%s-%d" % (topic, z, len(self.procs))
            procs.append((name, self.worker(name, z, "routing", "--admin", ",".join("%s:%d" % (ADDR[z], p) for p in ADMIN_PORTS),
                                            "--topic", topic, "--enabled", "true" if enabled else "false", "--timeout", "30",
                                            "--secret-file", self.secret_file)))
        for name, p in procs:
            if self.wait_exit(name, p, 40) != 0:
                raise RuntimeError("agents never reported routing %s on %s:\n%s" % (enabled, topic, self.output(name, "err")[-2000:]))

    def watermarks(self, topic, zone="a"):
        name = "wm-%s-%d" % (topic, len(self.procs))
        p = self.worker(name, zone, "watermarks", "--bootstrap", self.bootstrap(zone), "--topic", topic,
                        "--client-id", "amq_az=%s" % zone, "--partitions", str(PARTITIONS), "--timeout", "60")
        if self.wait_exit(name, p, 70) != 0:
            raise RuntimeError("watermarks of %s failed:\n%s" % (topic, self.output(name, "err")[-3000:]))
        return {int(k): v for k, v in self.json_lines(name)[-1].items()}


    # ---- the traffic report against the kernel ---------------------------------------------

    def minute_mark(self):
        """Waits for the next minute boundary and reads the kernel counters right at it."""
        boundary = (int(time.time()) // 60 + 1) * 60
        until(lambda: time.time() >= boundary, "the minute boundary", timeout=70, interval=0.002)
        return boundary, self.counters()

    def traffic_report(self, since, until_time):
        r = self.amq("traffic", "report", "--since", str(since), "--until", str(until_time), "--by", "zone-pair",
                     "--format", "json", "--wait", "30", timeout=60)
        return json.loads(r.stdout)


def check_report(h, label, start, end, loose=False):
    """The report for [start, end) against the kernel, per ordered zone pair (on-the-wire bytes)."""
    (t0, before), (t1, after) = start, end
    kernel = diff(before, after)
    report = h.traffic_report(t0, t1)
    pairs = {(p["source"], p["destination"]): p["wireBytes"] for p in report["zonePairs"]}
    problems = []
    print("\n  traffic report %s, window %s..%s (%ds, complete: %s)" % (
        label, time.strftime("%H:%M:%S", time.gmtime(t0)), time.strftime("%H:%M:%S", time.gmtime(t1)), t1 - t0,
        report["window"]["complete"]))
    if not report["window"]["complete"]:
        problems.append("report %s: the agents never shipped their counts through the window's end" % label)
    print("  %-10s %14s %14s %9s" % ("zone pair", "kernel (IP)", "amq report", "diff"))
    for s in ZONES:
        for d in ZONES:
            if s == d:
                continue
            k, a = kernel["%s_%s" % (s, d)], pairs.get((s, d), 0)
            rel = (a - k) / k if k else (0.0 if a == 0 else float("inf"))
            print("  %-10s %14d %14d %8.2f%%" % ("%s -> %s" % (s, d), k, a, 100 * rel))
            # 2 %, or 4 KiB on a near-idle pair (phase a's agent<->controller pairs carry ~2 KB/s):
            # the controller reads its HTTP connections' kernel counts every 250 ms, so one that
            # closes between two samples takes its last quarter second with it.
            if not loose and abs(a - k) > max(0.02 * k, 4096):
                problems.append("report %s: %s -> %s: amq %d bytes, kernel %d (%.2f %%, allowed 2 %% or 4 KiB)" % (label, s, d, a, k, 100 * rel))
    k_inter = sum(kernel["%s_%s" % (s, d)] for s in ZONES for d in ZONES if s != d)
    totals = report["totals"]
    print("  inter-zone: kernel %d, amq %d; amq within zones %d, unknown zone %d" % (
        k_inter, totals["interZone"], totals["intraZone"], totals["unknownZone"]))
    if loose:
        # The client's zone is unknown to amq: its bytes are unknown-zone, never inter-zone.
        if not (totals["interZone"] * 0.98 <= k_inter <= (totals["interZone"] + totals["unknownZone"]) * 1.02):
            problems.append("report %s: kernel inter-zone %d outside amq's inter-zone %d .. inter + unknown %d" % (
                label, k_inter, totals["interZone"], totals["interZone"] + totals["unknownZone"]))
    return problems, report, k_inter


class SetupImpossible(Exception):
    pass


# ---- workloads ---------------------------------------------------------------------------

def client_id(zone, tagged, role):
    return ("amq_az=%s" % zone) if tagged else ("zr-untagged-%s-%s" % (role, zone))


def produce(h, phase, topic, zones, tagged, total_bytes):
    procs = []
    for z in zones:
        name = "%s-prod-%s" % (phase, z)
        procs.append((name, h.worker(name, z, "produce", "--bootstrap", h.bootstrap(z), "--topic", topic,
                                     "--client-id", client_id(z, tagged, "p"), "--partitions", str(PARTITIONS),
                                     "--producer", "%s%s" % (phase, z), "--bytes", str(total_bytes // len(zones)),
                                     "--value-size", str(h.args.value_size), "--timeout", "150")))
    return finish_producers(h, procs)


def finish_producers(h, procs):
    results = []
    for name, p in procs:
        code = h.wait_exit(name, p, 170)
        lines = h.json_lines(name)
        if code != 0 or not lines:
            raise RuntimeError("%s failed (exit %s): %s\n%s" % (name, code, lines, h.output(name, "err")[-3000:]))
        results.append(lines[-1])
    return results


def consume(h, phase, topic, zones, tagged, start, end):
    stop = os.path.join(h.tmp, phase + "-consumers.stop")
    procs = []
    for z in zones:
        name = "%s-cons-%s" % (phase, z)
        procs.append((name, z, h.worker(
            name, z, "consume", "--bootstrap", h.bootstrap(z), "--topic", topic,
            "--client-id", client_id(z, tagged, "c"), "--partitions", str(PARTITIONS),
            "--group", "zr-%s-%d" % (phase, PID), "--members", str(len(zones)),
            "--start", json.dumps(start), "--end", json.dumps(end),
            "--out", os.path.join(h.tmp, name + ".records"), "--stop-file", stop, "--timeout", "150")))
    try:
        def all_done():
            for name, _, p in procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited %s before reading its share:\n%s\n%s" % (
                        name, p.returncode, h.output(name)[-2000:], h.output(name, "err")[-3000:]))
            return all(any(l.get("done") for l in h.json_lines(name)) for name, _, _ in procs)
        until(all_done, "%s consumers to read to the end" % phase, timeout=160)
    finally:
        open(stop, "w").close()
    for name, _, p in procs:
        h.wait_exit(name, p, 30)
    results, records = [], []
    for name, _, _ in procs:
        results.append([l for l in h.json_lines(name) if l.get("done")][-1])
        with open(os.path.join(h.tmp, name + ".records")) as f:
            for line in f:
                part, off, prod, seq, length = line.split()
                records.append((int(part), int(off), prod, int(seq), int(length)))
    return results, records


def check_records(produced, records, start):
    """Every acknowledged (producer, seq) read exactly once; per partition, each producer's
    sequence numbers appear in increasing offset order; nothing foreign in the range read."""
    problems = []
    expected = {(r["producer"], s) for r in produced for s in range(r["sent"])}
    seen = {}
    for part, off, prod, seq, _ in records:
        seen[(prod, seq)] = seen.get((prod, seq), 0) + 1
    dups = [k for k, n in seen.items() if n > 1]
    missing = expected - set(seen)
    foreign = set(seen) - expected
    if dups:
        problems.append("%d duplicate records, e.g. %s" % (len(dups), sorted(dups)[:5]))
    if missing:
        problems.append("%d records lost, e.g. %s" % (len(missing), sorted(missing)[:5]))
    if foreign:
        problems.append("%d records never produced, e.g. %s" % (len(foreign), sorted(foreign)[:5]))
    last = {}
    disorder = 0
    for part, off, prod, seq, _ in sorted(records):
        if off < start.get(part, 0):
            continue
        if seq % PARTITIONS != part:
            problems.append("record %s:%d in partition %d, sent to %d" % (prod, seq, part, seq % PARTITIONS))
            break
        if last.get((part, prod), -1) >= seq:
            disorder += 1
        last[(part, prod)] = seq
    if disorder:
        problems.append("%d records out of order within their partition" % disorder)
    return problems


def diff(before, after):
    return {k: after[k] - before.get(k, 0) for k in after}


def report(phase, title, counters, payload, seconds, check_text):
    inter = sum(counters["%s_%s" % (s, d)] for s in ZONES for d in ZONES if s != d)
    share = inter / payload if payload else float("inf")
    print("\n=== phase %s: %s (%.1f s) ===" % (phase, title, seconds))
    print("  %-12s %14s" % ("zone pair", "bytes (IP)"))
    for s in ZONES:
        for d in ZONES:
            if s != d:
                print("  %-12s %14d" % ("%s -> %s" % (s, d), counters["%s_%s" % (s, d)]))
    for z in ZONES:
        print("  %-12s %14d   (S3, not inter-zone)" % ("%s -> region" % z, counters["%s_region" % z]))
        print("  %-12s %14d   (S3, not inter-zone)" % ("region -> %s" % z, counters["region_%s" % z]))
    print("  %-12s %14d   (unmatched packets on the bridge: not IPv4, e.g. IPv6 neighbour discovery)" % ("other", counters.get("other", 0)))
    services = {k: counters[k] for k in ("x_controller", "x_kafka", "x_admin", "x_rpc")}
    print("  inter-zone by service: agents<->controller :%d %d bytes; Kafka ports %d bytes; admin ports %d bytes; agent RPC %d bytes; other ports %d bytes"
          % (CONTROLLER_PORT, services["x_controller"], services["x_kafka"], services["x_admin"], services["x_rpc"],
             sum(counters["%s_%s" % (s, d)] for s in ZONES for d in ZONES if s != d) - sum(services.values())))
    print("  inter-zone total: %d bytes; client payload (produced + consumed): %d bytes; share %.3f %%; %s"
          % (inter, payload, 100 * share, check_text(share)), flush=True)
    return inter, share


def phase_volume(h, phase, title, topic, zones, tagged, total_bytes, threshold):
    """Produce from every zone, then consume in a group of one member per zone; check records and
    the inter-zone share against threshold = ("max"|"min", fraction)."""
    start = h.watermarks(topic)
    before = h.counters()
    t0 = time.time()
    produced = produce(h, phase, topic, zones, tagged, total_bytes)
    t_prod = time.time() - t0
    end = h.watermarks(topic)
    consumed, records = consume(h, phase, topic, zones, tagged, start, end)
    seconds = time.time() - t0
    counters = diff(before, h.counters())
    payload = sum(r["payload_bytes"] for r in produced) + sum(r["payload_bytes"] for r in consumed)
    kind, bound = threshold
    ok_share = (lambda s: s <= bound) if kind == "max" else (lambda s: s >= bound)
    inter, share = report(phase, title + " (produce %.1f s)" % t_prod, counters, payload, seconds,
                          lambda s: "%s: share %s %.0f %%" % ("ok" if ok_share(s) else "FAILS", "<=" if kind == "max" else ">=", bound * 100))
    print("  records: produced %d, consumed %d (members: %s)" % (
        sum(r["acked"] for r in produced), len(records),
        ", ".join("%s %s" % (r["consumer"], r["partitions"]) for r in consumed)))
    problems = check_records(produced, records, start)
    if not ok_share(share):
        problems.append("inter-zone share %.3f %% (%d of %d bytes), required %s %.0f %%" % (
            100 * share, inter, payload, "<=" if kind == "max" else ">=", bound * 100))
    return problems, counters


def phase_untagged(h, topic, total_bytes, label, threshold):
    start = h.watermarks(topic, "b")
    before = h.counters()
    t0 = time.time()
    produced = produce(h, label, topic, ["b"], False, total_bytes)
    end = h.watermarks(topic, "b")
    consumed, records = consume(h, label, topic, ["b"], False, start, end)
    counters = diff(before, h.counters())
    payload = sum(r["payload_bytes"] for r in produced) + sum(r["payload_bytes"] for r in consumed)
    if threshold is None:
        check_text = lambda s: "information only (classic behaviour)"
    else:
        check_text = lambda s: "%s: share <= %.0f %%" % ("ok" if s <= threshold else "FAILS", threshold * 100)
    inter, share = report(label, "untagged client in zone b on %s" % topic, counters, payload, time.time() - t0, check_text)
    print("  records: produced %d, consumed %d" % (sum(r["acked"] for r in produced), len(records)))
    problems = check_records(produced, records, start)
    if threshold is not None and share > threshold:
        problems.append("inter-zone share %.3f %% (%d of %d bytes), required <= %.0f %%" % (
            100 * share, inter, payload, threshold * 100))
    return problems


def phase_toggle(h, topic):
    start = h.watermarks(topic)
    before = h.counters()
    t0 = time.time()
    stop = os.path.join(h.tmp, "d-producers.stop")
    procs, progress = [], {}
    for z in ZONES:
        name = "d-prod-%s" % z
        progress[name] = os.path.join(h.tmp, name + ".progress")
        procs.append((name, h.worker(name, z, "produce", "--bootstrap", h.bootstrap(z), "--topic", topic,
                                     "--client-id", client_id(z, True, "p"), "--partitions", str(PARTITIONS),
                                     "--producer", "d%s" % z, "--stop-file", stop, "--min-records", "1",
                                     "--value-size", "1024", "--progress-file", progress[name], "--timeout", "120")))

    def acked(name):
        try:
            with open(progress[name]) as f:
                return int(f.read() or 0)
        except (OSError, ValueError):
            return 0

    def advance(step, what):
        marks = {name: acked(name) for name, _ in procs}
        def moved():
            for name, p in procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited %s during the toggle:\n%s" % (name, p.returncode, h.output(name, "err")[-3000:]))
            return all(acked(name) >= marks[name] + step for name, _ in procs)
        until(moved, "every producer to get %d more acks %s" % (step, what), timeout=60)

    try:
        advance(200, "before the toggle")
        h.amq("topic", "route-disable", topic)
        h.wait_routing(topic, False)
        advance(200, "after route-disable")
        h.amq("topic", "route-enable", topic)
        h.wait_routing(topic, True)
        advance(200, "after route-enable")
    finally:
        open(stop, "w").close()
    produced = finish_producers(h, procs)
    end = h.watermarks(topic)
    consumed, records = consume(h, "d", topic, ZONES, True, start, end)
    counters = diff(before, h.counters())
    payload = sum(r["payload_bytes"] for r in produced) + sum(r["payload_bytes"] for r in consumed)
    report("d", "toggle route-disable/route-enable on %s while producing" % topic, counters, payload,
           time.time() - t0, lambda s: "information only")
    print("  records: produced %s, consumed %d" % ({r["producer"]: r["acked"] for r in produced}, len(records)))
    return check_records(produced, records, start)


def has_zone_command(h):
    r = h.run([h.args.amq, "--help"], check=False)
    return any(line.strip().startswith("zone ") for line in r.stdout.splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--amq", required=True, help="the amq binary under test")
    ap.add_argument("--python", required=True, help="the venv python with confluent-kafka")
    ap.add_argument("--weed", default="", help="SeaweedFS binary (default: weed beside --python)")
    ap.add_argument("--phases", default="a,b,c,d")
    ap.add_argument("--mb", type=float, default=50, help="MB of payload produced in phases a and b")
    ap.add_argument("--untagged-mb", type=float, default=20, help="MB produced per untagged run in phase c (enough that the fixed control traffic stays a small share)")
    ap.add_argument("--value-size", type=int, default=16384)
    ap.add_argument("--timeout", type=int, default=640, help="whole-run deadline in seconds")
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()
    args.amq = os.path.abspath(args.amq)
    args.weed = args.weed or os.path.join(os.path.dirname(args.python), "weed")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"a", "b", "c", "d"}
    if unknown:
        ap.error("unknown phases %s" % sorted(unknown))

    h = Harness(args)
    atexit.register(h.cleanup)

    def on_signal(signum, frame):
        raise SystemExit("interrupted by signal %d (deadline %d s or external)" % (signum, args.timeout))
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(s, on_signal)
    signal.alarm(args.timeout)

    t_start = time.time()
    failures = []
    try:
        try:
            h.build_network()
        except SetupImpossible as e:
            print("FAIL: cannot build the zone namespaces: %s" % e, flush=True)
            return 2
        h.start_cluster()
        total = int(args.mb * 1_000_000)
        if "a" in phases or "c" in phases or "d" in phases:
            h.amq("topic", "create", "R", "--partitions", str(PARTITIONS))
            h.amq("topic", "route-enable", "R")
            h.wait_routing("R", True)
        if "b" in phases:
            h.amq("topic", "create", "K", "--partitions", str(PARTITIONS))
        # Agents follow the topology by long-poll (README): wait until every zone's clients see
        # the topics before measuring.
        for z in ZONES:
            for topic in (["R"] if set(phases) & {"a", "c", "d"} else []) + (["K"] if "b" in phases else []):
                h.watermarks(topic, z)
        mark = h.minute_mark()
        shares = {}

        def reported(label, loose=False):
            nonlocal mark
            end = h.minute_mark()
            found, report, kernel_inter = check_report(h, label, mark, end, loose)
            mark = end
            produced = report["kafka"]["producedBytes"] + report["kafka"]["consumedBytes"]
            if produced:
                shares[label] = (kernel_inter / produced, report["totals"]["interZone"] / produced)
                print("  inter-zone share of client bytes: kernel %.3f %%, amq report %.3f %%" % (
                    100 * shares[label][0], 100 * shares[label][1]), flush=True)
            return found

        for phase in phases:
            t0 = time.time()
            if phase == "a":
                problems, _ = phase_volume(h, "a", "routing on, topic R", "R", ZONES, True, total, ("max", 0.01))
                problems += reported("a")
            elif phase == "b":
                problems, _ = phase_volume(h, "b", "routing off, topic K", "K", ZONES, True, total, ("min", 0.50))
                problems += reported("b")
            elif phase == "c":
                untagged = int(args.untagged_mb * 1_000_000)
                problems = phase_untagged(h, "R", untagged, "c1", None)
                problems += reported("c1", loose=True)
                if has_zone_command(h):
                    for z in ZONES:
                        h.amq("zone", "set-cidrs", z, SUBNET[z] + ".0/24")
                    problems += phase_untagged(h, "R", untagged, "c2", 0.01)
                    problems += reported("c2")
                else:
                    print("\n=== phase c2: NOT RUNNABLE: this amq has no `zone` command (amq zone set-cidrs) ===")
                    problems.append("c2 not runnable: `amq zone set-cidrs` does not exist in %s" % args.amq)
            else:
                problems = phase_toggle(h, "R")
                problems += reported("d")
            print("phase %s: %s in %.1f s" % (phase, "ok" if not problems else "FAILED", time.time() - t0), flush=True)
            failures += ["phase %s: %s" % (phase, p) for p in problems]
    except SystemExit as e:
        failures.append(str(e.code))
    except Exception as e:
        failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        signal.alarm(0)
        h.cleanup()
    print("\ntotal %.1f s" % (time.time() - t_start))
    if failures:
        print("FAIL")
        for f in failures:
            print("  - " + f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
