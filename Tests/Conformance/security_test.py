"""Issue 12 (TLS, SASL, ACLs) through unmodified clients: kcat (librdkafka 2.0.2), confluent-kafka
(librdkafka 2.x) and kafka-python 3.0 against a cluster made with `amq cluster create NAME --local
--tls --sasl`, plus the agents' records API and the mTLS of the controller and of the agents' RPC.

Usage: AMQ_DATA_DIR=DIR security_test.py --amq PATH-TO-AMQ --cluster NAME

Checks, each client on its own topics:
- SASL_SSL with PLAIN and SCRAM-SHA-512 (confluent also SCRAM-SHA-256): produce, consume, and
  the records read back (count and contents) by the client and by the admin user;
- refused, with Kafka's codes, and nothing written (the admin reads every topic back at the end):
  no SASL at all (security.protocol=SSL), a wrong password, an unknown user
  (SASL_AUTHENTICATION_FAILED, 58), a valid user without a Write ACL or under a DENY rule
  (TOPIC_AUTHORIZATION_FAILED, 29), a group without a Read ACL (GROUP_AUTHORIZATION_FAILED, 30);
- ACLs through the Kafka API (kafka-python's admin): a user without rights gets
  CLUSTER_AUTHORIZATION_FAILED (31) from DescribeAcls/CreateAcls/DeleteAcls and a topic-level 29
  from CreateTopics; the admin creates, describes and deletes an ACL, which grants and then
  revokes a user's produce; ACLs added with `amq acl add` show in DescribeAcls, and the other way
  round in `amq acl list`;
- the records API answers 401 without the cluster secret (or with a wrong one) and writes
  nothing; 200 with it; /healthz and /metrics stay open;
- the controller's HTTPS API and every agent's RPC port refuse a TLS client whose certificate
  comes from another CA, or that has none, and answer one with the cluster's certificate;
- a Kafka client that trusts another CA refuses the agents' certificate;
- `amq user delete` revokes a login.
Prints progress, then PASS and `security: OK`; exits 1 naming what differed.
"""
import argparse
import collections
import datetime
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlparse

import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition as CfPartition
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.admin._topics import NewTopic
import kafka.errors as KErrors

from waiting import until

SASL_AUTHENTICATION_FAILED, TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED = 58, 29, 30, 31
ACL_DEADLINE = 15.0  # ACL and user changes reach every agent within about a second
NOT_WRITTEN = b"must-not-be-written"


class Ctx:
    """What the cluster's status says, filled by main()."""
    amq = cluster = bootstrap = ca = cert = key = secret = admin = admin_password = None
    agents = []
    run = ""
    foreign_ca = foreign_cert = foreign_key = None


C = Ctx()


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def ok(what):
    print("ok:", what, flush=True)


# ---------------------------------------------------------------------------------------------
# kafka-python logs what it swallows (an authentication failure during bootstrap surfaces to the
# caller only as a KafkaTimeoutError): keep the exceptions it logs, to assert on their codes, and
# the last warnings, to show on failure.

class KafkaPythonLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.exceptions = []
        self.recent = collections.deque(maxlen=40)

    def emit(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        self.exceptions.extend(a for a in args if isinstance(a, BaseException))
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions.append(record.exc_info[1])
        if record.levelno >= logging.WARNING:
            try:
                self.recent.append(record.getMessage())
            except Exception:  # noqa: BLE001 - a log line that cannot be formatted is not our failure
                pass


KP_LOG = KafkaPythonLog()
_kafka_logger = logging.getLogger("kafka")
_kafka_logger.addHandler(KP_LOG)
_kafka_logger.setLevel(logging.INFO)
_kafka_logger.propagate = False

# librdkafka's log lines for the clients that are meant to fail (they retry and log many times).
QUIET = logging.getLogger("security-test.librdkafka")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


# ---------------------------------------------------------------------------------------------
# amq CLI

def amq(*args, stdin=None, timeout=60):
    result = subprocess.run([C.amq, *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(args)
    check(result.returncode == 0, f"`amq {shown}` exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def amq_json(*args):
    out = amq(*args, "--format", "json")
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"`amq {' '.join(args)} --format json` printed no JSON: {out[:500]!r}")


def acl_cli(verb, principal, operation, *resource, deny=False):
    flags = ["--principal", principal, "--operation", operation, *resource] + (["--deny"] if deny else [])
    amq("acl", verb, "--cluster", C.cluster, *flags)


# ---------------------------------------------------------------------------------------------
# Client configurations

def kp_conf(user=None, password=None, mechanism="SCRAM-SHA-512", protocol="SASL_SSL", ca=None, **extra):
    conf = dict(bootstrap_servers=C.bootstrap, security_protocol=protocol, ssl_cafile=ca or C.ca, request_timeout_ms=10000)
    if protocol == "SASL_SSL":
        conf.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    conf.update(extra)
    return conf


def kp_admin():
    return KafkaAdminClient(**kp_conf(C.admin, C.admin_password), client_id="security-admin")


def cf_conf(user=None, password=None, mechanism="SCRAM-SHA-512", protocol="SASL_SSL", bootstrap=None, ca=None, **extra):
    conf = {"bootstrap.servers": bootstrap or C.bootstrap, "security.protocol": protocol, "ssl.ca.location": ca or C.ca}
    if protocol == "SASL_SSL":
        conf.update({"sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password})
    conf.update(extra)
    return conf


def kcat_args(user=None, password=None, mechanism="PLAIN", protocol="SASL_SSL"):
    args = ["kcat", "-b", C.bootstrap, "-X", f"security.protocol={protocol}", "-X", f"ssl.ca.location={C.ca}"]
    if protocol == "SASL_SSL":
        args += ["-X", f"sasl.mechanisms={mechanism}", "-X", f"sasl.username={user}", "-X", f"sasl.password={password}"]
    return args


def kcat(args, stdin=None, timeout=60):
    try:
        return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"kcat did not finish within {timeout} s: {' '.join(a for a in args if 'password' not in a)}")


# ---------------------------------------------------------------------------------------------
# Reading back as the admin (a super user)

def admin_read(topic, partitions):
    """Every record of `topic`, as (partition, offset, key, value), read to the high watermarks."""
    c = KafkaConsumer(**kp_conf(C.admin, C.admin_password), enable_auto_commit=False, client_id="security-admin-reader")
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        end = c.end_offsets(tps)
        c.seek_to_beginning(*tps)
        got = []
        deadline = time.time() + 30
        while any(c.position(tp) < end[tp] for tp in tps):
            check(time.time() < deadline, f"admin read of {topic} stuck at {[(tp.partition, c.position(tp), end[tp]) for tp in tps]}")
            for tp, records in c.poll(timeout_ms=500).items():
                got.extend((tp.partition, r.offset, r.key, r.value) for r in records if r.offset < end[tp])
        return got, sum(end.values())
    finally:
        c.close()


def admin_end(topic, partitions):
    c = KafkaConsumer(**kp_conf(C.admin, C.admin_password), enable_auto_commit=False, client_id="security-admin-reader")
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return sum(c.end_offsets(tps).values())
    finally:
        c.close()


def same_records(what, got, expected):
    check(sorted(got) == sorted(expected),
          f"{what}: read {len(got)} records, expected {len(expected)}; "
          f"missing {sorted(set(expected) - set(got))[:5]}, unexpected {sorted(set(got) - set(expected))[:5]}")


# ---------------------------------------------------------------------------------------------
# Refusals, client by client: each asserts the Kafka code, then the caller checks nothing landed.

def kp_refused_produce(what, topic, conf, expected):
    """kafka-python: expected is 'auth' (58), 'topic' (29) or 'transport' (the connection closed)."""
    KP_LOG.exceptions.clear()
    producer, error = None, None
    started = time.time()
    try:
        producer = KafkaProducer(**conf)
        producer.send(topic, key=b"x", value=NOT_WRITTEN).get(timeout=15)
    except KErrors.KafkaError as e:
        error = e
    finally:
        if producer is not None:
            try:
                producer.close(timeout=2)
            except Exception:  # noqa: BLE001 - closing a producer that never connected
                pass
    check(error is not None, f"kafka-python {what}: the produce was acknowledged")
    logged = [type(e).__name__ for e in KP_LOG.exceptions]
    if expected == "auth":
        seen = [e for e in [error, *KP_LOG.exceptions] if isinstance(e, KErrors.SaslAuthenticationFailedError)]
        check(seen and seen[0].errno == SASL_AUTHENTICATION_FAILED,
              f"kafka-python {what}: expected SASL_AUTHENTICATION_FAILED (58), got {error!r}; logged {sorted(set(logged))}")
    elif expected == "topic":
        check(isinstance(error, KErrors.TopicAuthorizationFailedError) and error.errno == TOPIC_AUTHORIZATION_FAILED,
              f"kafka-python {what}: expected TOPIC_AUTHORIZATION_FAILED (29), got {error!r}")
    else:
        check(isinstance(error, (KErrors.KafkaTimeoutError, KErrors.KafkaConnectionError)),
              f"kafka-python {what}: expected a timeout or a closed connection, got {error!r}")
        check(not any(isinstance(e, KErrors.SaslAuthenticationFailedError) for e in KP_LOG.exceptions),
              f"kafka-python {what}: a client without SASL got a SASL answer: {logged}")
    ok(f"kafka-python {what} -> {type(error).__name__} ({time.time() - started:.1f} s)")


def cf_refused_produce(what, topic, conf, expected):
    """confluent-kafka: expected is a KafkaError code seen by error_cb (_AUTHENTICATION), the
    delivery report's code (TOPIC_AUTHORIZATION_FAILED), or 'transport' (connection closed)."""
    errors, reports = [], []
    started = time.time()
    p = Producer({**conf, "error_cb": errors.append, "logger": QUIET, "message.timeout.ms": 8000})
    p.produce(topic, key=b"x", value=NOT_WRITTEN, on_delivery=lambda err, msg: reports.append(err))
    if expected == KafkaError.TOPIC_AUTHORIZATION_FAILED:
        p.flush(20)
        codes = [e.code() if e is not None else None for e in reports]
        check(codes == [expected], f"confluent {what}: delivery reports {reports}, expected TOPIC_AUTHORIZATION_FAILED; errors {errors[:3]}")
        detail = reports[0]
    else:
        wanted = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN} if expected == "transport" else {expected}

        def refused():
            p.poll(0.1)
            return next((e for e in errors if e.code() in wanted), None) or reports

        detail = until(refused, f"confluent {what} to be refused", timeout=15)
        p.purge()
        p.flush(5)
        check(all(r is not None for r in reports), f"confluent {what}: a record was delivered: {reports}")
        if expected == "transport":
            check(not any(e.code() == KafkaError._AUTHENTICATION for e in errors), f"confluent {what}: unexpected SASL answer {errors[:3]}")
    ok(f"confluent {what} -> {detail} ({time.time() - started:.1f} s)")


def kcat_refused(what, args, stdin, needles):
    started = time.time()
    result = kcat(args + ["-X", "message.timeout.ms=8000"] if "-P" in args else args, stdin=stdin, timeout=45)
    text = result.stderr + result.stdout
    check(result.returncode != 0, f"kcat {what}: exited 0; {text[-1500:]}")
    check(any(n.lower() in text.lower() for n in needles), f"kcat {what}: none of {needles} in: {text[-1500:]}")
    ok(f"kcat {what} -> exit {result.returncode}, {[n for n in needles if n.lower() in text.lower()][0]!r} ({time.time() - started:.1f} s)")


# ---------------------------------------------------------------------------------------------
# Certificates from another CA, and raw TLS probes

def foreign_certificates(directory):
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("security-test foreign CA")).issuer_name(name("security-test foreign CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("intruder")).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("foreign-ca.pem", "foreign-cert.pem", "foreign-key.pem")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def tls_probe(host, port, cert, key, payload, answered, timeout=10.0):
    """Connects with TLS (the server verified against the cluster CA), offering `cert` (or none),
    sends `payload` and reads. Returns ('answered', bytes) once `answered(bytes)` holds, or
    ('refused', why) for a failed handshake, an alert, a reset or a close before any answer."""
    context = ssl.create_default_context(cafile=C.ca)
    if cert:
        context.load_cert_chain(cert, key)
    raw = socket.create_connection((host, port), timeout=timeout)
    conn = raw
    try:
        try:
            conn = context.wrap_socket(raw, server_hostname=host)
        except socket.timeout:
            raise AssertionError(f"{host}:{port}: the TLS handshake neither finished nor failed within {timeout} s")
        except (ssl.SSLError, OSError) as e:
            return "refused", f"handshake: {e}"
        data = b""
        deadline = time.time() + timeout
        try:
            conn.sendall(payload)
            while not answered(data):
                conn.settimeout(max(0.1, deadline - time.time()))
                chunk = conn.recv(65536)
                if not chunk:
                    return ("answered", data) if data else ("refused", "closed before any answer")
                data += chunk
        except socket.timeout:
            raise AssertionError(f"{host}:{port} neither answered nor refused within {timeout} s (got {data[:80]!r})")
        except (ssl.SSLError, OSError) as e:
            return ("answered", data) if answered(data) else ("refused", f"{type(e).__name__}: {e}")
        return "answered", data
    finally:
        conn.close()


def http_answer(data):
    return data.startswith(b"HTTP/") and b"\r\n" in data


def rpc_hello(secret):
    """The agents' RPC hello (Sources/AMQAgent/Routing/RPC/RPCMessages.swift): a frame
    `u32 size | flags u8 | method u8 (1) | correlation u32 | node i32 | zone | ms i64 | nonce | mac`."""
    node, zone, now, nonce = 999, "security-test", int(time.time() * 1000), secrets.token_bytes(16)
    mac = hmac.new(secret.encode(), f"amq-rpc-1|{node}|{zone}|{now}|".encode() + nonce, hashlib.sha256).digest()
    body = struct.pack(">i", node) + struct.pack(">H", len(zone)) + zone.encode() + struct.pack(">q", now)
    body += bytes([len(nonce)]) + nonce + bytes([len(mac)]) + mac
    frame = struct.pack(">BBI", 0, 1, 7) + body
    return struct.pack(">I", len(frame)) + frame


def rpc_answer(data):
    return len(data) >= 4 and len(data) >= 4 + struct.unpack(">I", data[:4])[0]


def describe_hello_answer(data):
    try:
        flags, method = data[4], data[5]
        accepted = data[10] == 1
        return f"hello answer (response={flags & 1}, method={method}, accepted={accepted})"
    except IndexError:
        return f"{len(data)} bytes"


def login(user, password, agent, timeout=5.0):
    """A confluent client at one agent only: 'ok' once its metadata request is answered, 'refused'
    at the first SASL failure, None if neither happened within `timeout`."""
    errors = []
    p = Producer(cf_conf(user, password, "SCRAM-SHA-512", bootstrap=f"{agent['host']}:{agent['kafkaPort']}",
                         logger=QUIET, error_cb=errors.append))
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            p.list_topics(timeout=0.5)
            return "ok"
        except KafkaException:
            p.poll(0.05)
        if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
            return "refused"
    return None


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amq", required=True, help="the amq executable")
    parser.add_argument("--cluster", required=True, help="a running cluster made with --tls --sasl")
    options = parser.parse_args()
    C.amq, C.cluster = options.amq, options.cluster
    if "AMQ_DATA_DIR" not in os.environ:
        print("note: AMQ_DATA_DIR is not set; amq uses its default data directory", flush=True)
    started = time.time()

    status = amq_json("cluster", "status", C.cluster)
    security = status.get("security")
    check(isinstance(security, dict), f"`cluster status` has no security section (was the cluster made with --tls --sasl?): {list(status)}")
    check(security.get("kafkaProtocol") == "SASL_SSL", f"kafkaProtocol is {security.get('kafkaProtocol')!r}, expected SASL_SSL")
    C.agents = [a for a in status["agents"] if a.get("kafkaPort")]
    check(C.agents, f"no agent has a Kafka port: {status['agents']}")
    C.bootstrap = ",".join(f"{a['host']}:{a['kafkaPort']}" for a in C.agents)
    C.ca, C.cert, C.key = security["caFile"], security["certFile"], security["keyFile"]
    C.admin = security.get("adminUser", "admin")
    with open(security["adminPasswordFile"]) as f:
        C.admin_password = f.read().strip()
    with open(security["secretFile"]) as f:
        C.secret = f.read().strip()
    controller = urlparse(status["controller"]["url"])
    check(controller.scheme == "https", f"the controller URL is {status['controller']['url']}, expected https")
    print(f"cluster {C.cluster}: bootstrap {C.bootstrap}, controller {controller.netloc}, CA {C.ca}", flush=True)

    run = uuid.uuid4().hex[:6]
    alice, nobody = f"alice-{run}", f"nobody-{run}"
    alice_pw, nobody_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    prefix = f"sec-{run}-c-"                   # alice: Write and Read, prefixed
    group_prefix = f"sec-{run}-g-"             # alice: group Read, prefixed
    T_KP, T_CF, T_DENIED = prefix + "kp", prefix + "cf", prefix + "denied"   # T_DENIED: a literal DENY Write
    T_KC = f"sec-{run}-kc"                     # alice: literal Write and Read
    T_ACL = f"sec-{run}-acl"                   # alice: only through CreateAcls/DeleteAcls
    T_API = f"sec-{run}-api"                   # the records API; admin only
    T_WARM = prefix + "warm"
    topics = {T_KP: 3, T_CF: 3, T_DENIED: 1, T_KC: 3, T_ACL: 1, T_API: 1, T_WARM: 3}
    expected = {t: [] for t in topics}         # (key, value) pairs acknowledged, per topic
    work = tempfile.mkdtemp(prefix="amq-security-")
    C.foreign_ca, C.foreign_cert, C.foreign_key = foreign_certificates(work)

    # -- Users and ACLs through the CLI -----------------------------------------------------
    amq("user", "create", alice, "--cluster", C.cluster, "--password-stdin", stdin=alice_pw + "\n")
    amq("user", "create", nobody, "--cluster", C.cluster, "--password-stdin", stdin=nobody_pw + "\n")
    users = json.dumps(amq_json("user", "list", "--cluster", C.cluster))
    check(alice in users and nobody in users, f"`user list` lacks the new users: {users[:500]}")
    ok("users created and listed")
    A = f"User:{alice}"
    acl_cli("add", A, "Read", "--topic", prefix, "--prefixed")
    acl_cli("add", A, "Write", "--topic", T_DENIED, deny=True)
    acl_cli("add", A, "Write", "--topic", T_KC)
    acl_cli("add", A, "Read", "--topic", T_KC)
    acl_cli("add", A, "Read", "--group", group_prefix, "--prefixed")
    acl_cli("add", A, "Write", "--topic", prefix, "--prefixed")
    listed = json.dumps(amq_json("acl", "list", "--cluster", C.cluster))
    check(all(s in listed for s in (A, prefix, T_KC, group_prefix, T_DENIED)), f"`acl list` lacks alice's ACLs: {listed[:800]}")
    ok("ACLs added and listed")

    admin = kp_admin()
    admin.create_topics({t: {"num_partitions": n, "replication_factor": 1} for t, n in topics.items()}, wait_for_metadata=True)
    ok(f"topics created as {C.admin}: {sorted(topics)}")

    # Every agent knows both users, and alice's rights are in force on every partition's leader.
    for agent in C.agents:
        for user, password in ((alice, alice_pw), (nobody, nobody_pw)):
            until(lambda: login(user, password, agent) == "ok", f"{user} to log in at agent {agent['nodeId']}", timeout=ACL_DEADLINE)

    def warm():
        reports = []
        p = Producer(cf_conf(alice, alice_pw, "SCRAM-SHA-512", logger=QUIET, **{"message.timeout.ms": 5000}))
        for part in range(3):
            p.produce(T_WARM, value=b"warm", partition=part, on_delivery=lambda err, msg: reports.append(err))
        p.flush(10)
        return len(reports) == 3 and all(r is None for r in reports)

    until(warm, "alice's Write ACL to be in force on every partition", timeout=ACL_DEADLINE, interval=0.3)
    ok("users and ACLs reached every agent")

    # -- kafka-python ---------------------------------------------------------------------
    for n, mechanism in enumerate(("PLAIN", "SCRAM-SHA-512")):
        p = KafkaProducer(**kp_conf(alice, alice_pw, mechanism), client_id=f"kp-{mechanism}")
        batch = [(f"kp-{mechanism}-{i}".encode(), f"kafka-python {mechanism} {i}".encode()) for i in range(30)]
        futures = [p.send(T_KP, key=k, value=v, partition=i % 3) for i, (k, v) in enumerate(batch)]
        p.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)
        p.close()
        expected[T_KP] += batch
        if mechanism == "PLAIN":
            c = KafkaConsumer(**kp_conf(alice, alice_pw, mechanism), enable_auto_commit=False)
            c.assign([TopicPartition(T_KP, i) for i in range(3)])
            c.seek_to_beginning()
        else:
            c = KafkaConsumer(T_KP, **kp_conf(alice, alice_pw, mechanism), group_id=group_prefix + "kp", auto_offset_reset="earliest")
        got = []
        deadline = time.time() + 60
        while len(got) < len(expected[T_KP]) and time.time() < deadline:
            for records in c.poll(timeout_ms=500).values():
                got.extend((r.key, r.value) for r in records)
        c.close()
        same_records(f"kafka-python {mechanism} consumer", got, expected[T_KP])
        ok(f"kafka-python SASL_SSL {mechanism}: produced 30, consumed all {len(got)}" + (" in a group" if n else ""))

    before = admin_end(T_KP, 3)
    fast = dict(api_version=(3, 6), max_block_ms=3000, enable_idempotence=False)
    kp_refused_produce("without SASL (SSL only)", T_KP, kp_conf(protocol="SSL", **fast), "transport")
    kp_refused_produce("wrong password (PLAIN)", T_KP, kp_conf(alice, "not-" + alice_pw, "PLAIN", **fast), "auth")
    kp_refused_produce("unknown user (SCRAM-SHA-512)", T_KP, kp_conf("nosuch-" + run, alice_pw, "SCRAM-SHA-512", **fast), "auth")
    kp_refused_produce("user without ACL", T_KP, kp_conf(nobody, nobody_pw, **fast), "topic")
    c = KafkaConsumer(T_KP, **kp_conf(alice, alice_pw), group_id=f"other-{run}-kp", auto_offset_reset="earliest")

    def kp_group_refused():
        try:
            records = c.poll(timeout_ms=500)
        except KErrors.GroupAuthorizationFailedError as e:
            return e
        check(not records, "kafka-python: a consumer in a group without ACL read records")
        return None

    error = until(kp_group_refused, "kafka-python's consumer in a group without ACL to be refused", timeout=20)
    c.close()
    check(error.errno == GROUP_AUTHORIZATION_FAILED, repr(error))
    ok("kafka-python consumer in a group without ACL -> GroupAuthorizationFailedError (30)")
    check(admin_end(T_KP, 3) == before, f"kafka-python refusals wrote to {T_KP}: {before} -> {admin_end(T_KP, 3)}")
    ok(f"kafka-python refusals wrote nothing ({T_KP} still ends at {before})")

    # -- confluent-kafka -------------------------------------------------------------------
    for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        errors, reports = [], []
        extra = {"enable.idempotence": True} if mechanism == "SCRAM-SHA-512" else {}
        p = Producer(cf_conf(alice, alice_pw, mechanism, error_cb=errors.append, **extra))
        batch = [(f"cf-{mechanism}-{i}".encode(), f"confluent {mechanism} {i}".encode()) for i in range(30)]
        for i, (k, v) in enumerate(batch):
            p.produce(T_CF, key=k, value=v, partition=i % 3, on_delivery=lambda err, msg: reports.append(err))
        check(p.flush(30) == 0 and len(reports) == 30 and not any(reports), f"confluent {mechanism}: delivery {set(map(str, reports))}, errors {errors[:3]}")
        expected[T_CF] += batch
        c = Consumer(cf_conf(alice, alice_pw, mechanism, **{"group.id": group_prefix + "cf-" + mechanism, "auto.offset.reset": "earliest",
                                                             "enable.auto.commit": mechanism == "SCRAM-SHA-512"}))
        if mechanism == "SCRAM-SHA-512":
            c.subscribe([T_CF])
        else:
            c.assign([CfPartition(T_CF, i, OFFSET_BEGINNING) for i in range(3)])
        got, problems = [], []
        deadline = time.time() + 60
        while len(got) < len(expected[T_CF]) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                problems.append(m.error())
            else:
                got.append((m.key(), m.value()))
        c.close()
        check(not [e for e in problems if e.code() != KafkaError._PARTITION_EOF], f"confluent {mechanism} consumer: {problems[:3]}")
        same_records(f"confluent {mechanism} consumer", got, expected[T_CF])
        ok(f"confluent SASL_SSL {mechanism}: produced 30{' (idempotent)' if extra else ''}, consumed all {len(got)}")

    before = admin_end(T_CF, 3)
    cf_refused_produce("without SASL (SSL only)", T_CF, cf_conf(protocol="SSL"), "transport")
    cf_refused_produce("wrong password (SCRAM-SHA-512)", T_CF, cf_conf(alice, "not-" + alice_pw, "SCRAM-SHA-512"), KafkaError._AUTHENTICATION)
    cf_refused_produce("unknown user (PLAIN)", T_CF, cf_conf("nosuch-" + run, alice_pw, "PLAIN"), KafkaError._AUTHENTICATION)
    cf_refused_produce("user without ACL", T_CF, cf_conf(nobody, nobody_pw), KafkaError.TOPIC_AUTHORIZATION_FAILED)
    cf_refused_produce("alice under a DENY Write rule", T_DENIED, cf_conf(alice, alice_pw), KafkaError.TOPIC_AUTHORIZATION_FAILED)
    cf_refused_produce("client trusting another CA", T_CF, cf_conf(alice, alice_pw, ca=C.foreign_ca), KafkaError._SSL)
    c = Consumer(cf_conf(alice, alice_pw, **{"group.id": f"other-{run}-cf", "auto.offset.reset": "earliest", "logger": QUIET}))
    c.subscribe([T_CF])
    denied = []

    def cf_group_refused():
        m = c.poll(0.5)
        if m is not None and not m.error():
            raise AssertionError("confluent: a consumer in a group without ACL read a record")
        if m is not None:
            denied.append(m.error())
        return next((e for e in denied if e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED), None)

    until(lambda: cf_group_refused() or (len(denied) > 20 and denied), "confluent's consumer in a group without ACL to be refused", timeout=20)
    c.close()
    check(any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in denied), f"confluent group without ACL: {denied[:5]}")
    ok("confluent consumer in a group without ACL -> GROUP_AUTHORIZATION_FAILED (30)")
    check(admin_end(T_CF, 3) == before, f"confluent refusals wrote to {T_CF}: {before} -> {admin_end(T_CF, 3)}")
    check(admin_end(T_DENIED, 1) == 0, f"{T_DENIED} (DENY Write) holds records")
    ok(f"confluent refusals wrote nothing ({T_CF} still ends at {before}, {T_DENIED} empty)")

    # -- kcat ------------------------------------------------------------------------------
    for mechanism in ("PLAIN", "SCRAM-SHA-512"):
        batch = [(f"kc-{mechanism}-{i}", f"kcat {mechanism} {i}") for i in range(20)]
        result = kcat(kcat_args(alice, alice_pw, mechanism) + ["-P", "-t", T_KC, "-K", ":"], stdin="".join(f"{k}:{v}\n" for k, v in batch))
        check(result.returncode == 0, f"kcat {mechanism} produce: exit {result.returncode}: {result.stderr[-1500:]}")
        expected[T_KC] += [(k.encode(), v.encode()) for k, v in batch]
        if mechanism == "PLAIN":
            read = ["-C", "-t", T_KC, "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n"]
        else:
            read = ["-G", group_prefix + "kc", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%k=%s\\n", T_KC]
        result = kcat(kcat_args(alice, alice_pw, mechanism) + read)
        check(result.returncode == 0, f"kcat {mechanism} consume: exit {result.returncode}: {result.stderr[-1500:]}")
        got = [tuple(part.encode() for part in line.split("=", 1)) for line in result.stdout.splitlines() if line]
        same_records(f"kcat {mechanism} consumer", got, expected[T_KC])
        ok(f"kcat SASL_SSL {mechanism}: produced 20, consumed all {len(got)}" + (" in a group" if mechanism != "PLAIN" else ""))

    before = admin_end(T_KC, 3)
    line = "x:" + NOT_WRITTEN.decode() + "\n"
    produce = ["-P", "-t", T_KC, "-K", ":"]
    kcat_refused("without SASL (SSL only)", kcat_args(protocol="SSL") + produce, line,
                 ["Broker transport failure", "All broker connections are down", "Disconnected"])
    kcat_refused("wrong password (PLAIN)", kcat_args(alice, "not-" + alice_pw, "PLAIN") + produce, line, ["Authentication failure"])
    kcat_refused("unknown user (SCRAM-SHA-512)", kcat_args("nosuch-" + run, alice_pw, "SCRAM-SHA-512") + produce, line, ["Authentication failure"])
    kcat_refused("user without ACL", kcat_args(nobody, nobody_pw, "PLAIN") + produce, line, ["Topic authorization failed"])
    kcat_refused("group without ACL", kcat_args(alice, alice_pw, "PLAIN") + ["-G", f"other-{run}-kc", "-e", "-q", T_KC], None,
                 ["Group authorization failed"])
    check(admin_end(T_KC, 3) == before, f"kcat refusals wrote to {T_KC}: {before} -> {admin_end(T_KC, 3)}")
    ok(f"kcat refusals wrote nothing ({T_KC} still ends at {before})")

    # -- ACLs through the Kafka API (kafka-python's admin client) ---------------------------
    weak = KafkaAdminClient(**kp_conf(alice, alice_pw), client_id="security-alice-admin")
    everything = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                           ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    try:
        weak.describe_acls(everything)
        raise AssertionError("DescribeAcls by a user without cluster Describe succeeded")
    except KErrors.ClusterAuthorizationFailedError as e:
        check(e.errno == CLUSTER_AUTHORIZATION_FAILED, repr(e))
    grant = ACL(A, "*", ACLOperation.WRITE, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, T_ACL, ACLResourcePatternType.LITERAL))
    created = weak.create_acls([grant])
    check(created["succeeded"] == [] and created["failed"] == [KErrors.ClusterAuthorizationFailedError],
          f"CreateAcls by a user without cluster Alter: {created}")
    deleted = weak.delete_acls([everything])
    check(len(deleted) == 1 and deleted[0][2] is KErrors.ClusterAuthorizationFailedError and not deleted[0][1],
          f"DeleteAcls by a user without cluster Alter: {deleted}")
    answer = weak.create_topics({prefix + "new": {"num_partitions": 1, "replication_factor": 1}}, raise_errors=False)
    check([t["error_code"] for t in answer["topics"]] == [TOPIC_AUTHORIZATION_FAILED], f"CreateTopics without Create: {answer}")
    weak.close()
    check(prefix + "new" not in admin.list_topics(), "CreateTopics without Create made the topic")
    ok("alice without rights: DescribeAcls/CreateAcls/DeleteAcls -> 31, CreateTopics -> 29 and no topic")

    def alice_produces(value):
        """One kafka-python produce to T_ACL as alice: True if acknowledged, False if refused with 29."""
        p = KafkaProducer(**kp_conf(alice, alice_pw), max_block_ms=5000, client_id="kp-acl")
        try:
            p.send(T_ACL, value=value).get(timeout=10)
            expected[T_ACL].append((None, value))
            return True
        except KErrors.TopicAuthorizationFailedError:
            return False
        finally:
            p.close(timeout=2)

    check(not alice_produces(b"before the grant"), "alice could write to a topic before any ACL allowed it")
    created = admin.create_acls([grant])
    check(created["succeeded"] == [grant] and not created["failed"], f"CreateAcls as {C.admin}: {created}")
    mine = ACLFilter(A, None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(ResourceType.TOPIC, T_ACL, ACLResourcePatternType.LITERAL))
    until(lambda: grant in admin.describe_acls(mine)[0], "DescribeAcls to show the created ACL", timeout=ACL_DEADLINE)
    cli_made = ACL(A, "*", ACLOperation.WRITE, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, prefix, ACLResourcePatternType.PREFIXED))
    prefixed = ACLFilter(A, None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(ResourceType.TOPIC, prefix, ACLResourcePatternType.PREFIXED))
    described = admin.describe_acls(prefixed)[0]
    check(cli_made in described, f"DescribeAcls lacks the ACL made by `amq acl add --prefixed`: {described}")
    check(T_ACL in json.dumps(amq_json("acl", "list", "--cluster", C.cluster)), "`acl list` lacks the ACL made through CreateAcls")
    n = [0]

    def granted():
        n[0] += 1
        return alice_produces(b"granted %d" % n[0])

    until(granted, "alice's produce to succeed after CreateAcls", timeout=ACL_DEADLINE, interval=0.3)
    ok("CreateAcls as admin: DescribeAcls and `acl list` show it, and alice's produce is accepted")
    deleted = admin.delete_acls([mine])
    check(len(deleted) == 1 and deleted[0][2] is KErrors.NoError and grant in deleted[0][1], f"DeleteAcls as {C.admin}: {deleted}")
    until(lambda: not admin.describe_acls(mine)[0], "DescribeAcls to show the ACL gone", timeout=ACL_DEADLINE)
    until(lambda: not granted(), "alice's produce to be refused again after DeleteAcls", timeout=ACL_DEADLINE, interval=0.3)
    ok("DeleteAcls as admin: the ACL is gone and alice's produce is refused again")

    # -- The records API -------------------------------------------------------------------
    secret_header = {"Authorization": f"Bearer {C.secret}"}
    wrong_header = {"Authorization": f"Bearer not-{C.secret}"}
    path = f"/v1/topics/{T_API}/partitions/0/records"
    body = {"records": [{"key": "k1", "value": "v1"}, {"key": "k2", "value": "v2"}]}
    for agent in C.agents:
        base = f"https://{agent['host']}:{agent['adminPort']}"
        for headers, label in (({}, "no secret"), (wrong_header, "a wrong secret")):
            r = requests.post(base + path, json={"records": [{"key": "x", "value": NOT_WRITTEN.decode()}]}, headers=headers, verify=C.ca, timeout=10)
            check(r.status_code == 401, f"records POST with {label} at agent {agent['nodeId']}: {r.status_code} {r.text[:300]}")
            r = requests.get(base + path + "?offset=0", headers=headers, verify=C.ca, timeout=10)
            check(r.status_code == 401, f"records GET with {label} at agent {agent['nodeId']}: {r.status_code} {r.text[:300]}")
        for open_path in ("/healthz", "/metrics"):
            r = requests.get(base + open_path, verify=C.ca, timeout=10)
            check(r.status_code == 200, f"{open_path} without the secret at agent {agent['nodeId']}: {r.status_code}")
    ok("records API: 401 without or with a wrong secret on every agent; /healthz and /metrics open")
    check(admin_end(T_API, 1) == 0, f"records POSTs without the secret wrote to {T_API}")
    leader = None
    for described in admin.describe_topics([T_API]):
        for partition in described.get("partitions", []):
            if partition.get("partition_index", partition.get("partition")) == 0:
                leader = partition.get("leader_id", partition.get("leader"))
    agent = next((a for a in C.agents if a["nodeId"] == leader), None)
    check(agent is not None, f"no agent leads {T_API}-0 (leader {leader})")
    base = f"https://{agent['host']}:{agent['adminPort']}"
    r = requests.post(base + path, json=body, headers=secret_header, verify=C.ca, timeout=30)
    check(r.status_code == 200, f"records POST with the secret at the leader: {r.status_code} {r.text[:300]}")
    expected[T_API] += [(b"k1", b"v1"), (b"k2", b"v2")]
    r = requests.get(base + path + "?offset=0", headers=secret_header, verify=C.ca, timeout=30)
    check(r.status_code == 200, f"records GET with the secret: {r.status_code} {r.text[:300]}")
    pairs = [(x.get("key"), x.get("value")) for x in r.json().get("records", [])]
    check(pairs == [("k1", "v1"), ("k2", "v2")], f"records GET read {pairs}")
    ok("records API with the secret: POST 200 and GET reads the two records back")

    # -- mTLS: the controller's control API and every agent's RPC port ------------------------
    offers = (("the cluster's certificate", C.cert, C.key), ("a certificate from another CA", C.foreign_cert, C.foreign_key),
              ("no certificate", None, None))
    request = f"GET /healthz HTTP/1.1\r\nHost: {controller.hostname}\r\nConnection: close\r\n\r\n".encode()
    for label, cert, key in offers:
        outcome, detail = tls_probe(controller.hostname, controller.port, cert, key, request, http_answer)
        want = "answered" if cert == C.cert else "refused"
        shown = detail.split(b"\r\n")[0].decode(errors="replace") if isinstance(detail, bytes) else detail
        check(outcome == want, f"controller {controller.netloc} with {label}: {outcome} ({shown}), expected {want}")
        ok(f"controller with {label}: {outcome} ({shown})")
    for agent in C.agents:
        port = agent.get("rpcPort")
        check(port, f"agent {agent['nodeId']} reports no rpcPort")
        for label, cert, key in offers:
            outcome, detail = tls_probe(agent["host"], port, cert, key, rpc_hello(C.secret), rpc_answer)
            want = "answered" if cert == C.cert else "refused"
            shown = describe_hello_answer(detail) if isinstance(detail, bytes) else detail
            check(outcome == want, f"agent {agent['nodeId']} RPC port {port} with {label}: {outcome} ({shown}), expected {want}")
            ok(f"agent {agent['nodeId']} RPC with {label}: {outcome} ({shown})")

    # -- Everything the refused clients tried is absent: read every topic back as admin -------
    for topic, partitions in topics.items():
        if topic == T_WARM:
            continue
        records, end = admin_read(topic, partitions)
        check(not any(v == NOT_WRITTEN for _, _, _, v in records), f"{topic} holds a record a refused client sent")
        same_records(f"admin read-back of {topic}", [(k, v) for _, _, k, v in records], expected[topic])
        check(end == len(expected[topic]), f"{topic} ends at {end}, expected {len(expected[topic])}")
    ok("admin read-back: every topic holds exactly the acknowledged records: "
       + ", ".join(f"{t.split('-', 2)[2]}={len(expected[t])}" for t in topics if t != T_WARM))

    # -- Clean up: ACLs removed through the CLI, users deleted (and their logins refused) -------
    acl_cli("remove", A, "Read", "--topic", prefix, "--prefixed")
    acl_cli("remove", A, "Write", "--topic", prefix, "--prefixed")
    acl_cli("remove", A, "Write", "--topic", T_DENIED, deny=True)
    acl_cli("remove", A, "Write", "--topic", T_KC)
    acl_cli("remove", A, "Read", "--topic", T_KC)
    acl_cli("remove", A, "Read", "--group", group_prefix, "--prefixed")
    listed = json.dumps(amq_json("acl", "list", "--cluster", C.cluster))
    check(alice not in listed, f"`acl list` still shows alice's ACLs after `acl remove`: {listed[:800]}")
    amq("user", "delete", alice, "--cluster", C.cluster)
    amq("user", "delete", nobody, "--cluster", C.cluster)
    users = json.dumps(amq_json("user", "list", "--cluster", C.cluster))
    check(alice not in users and nobody not in users, f"`user list` still shows deleted users: {users[:500]}")
    for agent in C.agents:
        until(lambda: login(alice, alice_pw, agent) == "refused", f"alice's login to be refused at agent {agent['nodeId']} after `user delete`",
              timeout=ACL_DEADLINE)
    cf_refused_produce("deleted user", T_CF, cf_conf(alice, alice_pw), KafkaError._AUTHENTICATION)
    admin.delete_topics(list(topics))
    admin.close()
    ok("ACLs removed, users deleted and their logins refused, topics deleted")
    print(f"all checks passed in {time.time() - started:.0f} s")
    print("PASS")
    print("security: OK")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        if KP_LOG.recent:
            print("kafka-python's last warnings:\n  " + "\n  ".join(KP_LOG.recent), file=sys.stderr)
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
