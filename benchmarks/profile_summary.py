"""Where an agent's CPU went, by layer, from `perf report --stdio --no-children --sort dso,sym`.

Usage: profile_summary.py REPORT.txt
Prints {"samples_pct": {layer: percent, …}}. The protocol layer is the Kafka codec, framing and
request routing (AMQKafkaProtocol without batch validation, plus the agent's Kafka connection and
handlers); batch validation (CRC-32C) and storage are reported beside it.
"""
import json
import re
import sys

layers = {"kafka protocol (codec, framing, handlers)": 0.0, "crc32c (batch validation)": 0.0, "storage engine": 0.0,
          "control plane client": 0.0, "swift-nio": 0.0, "swift runtime / libc / kernel": 0.0, "other": 0.0}
line_re = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[.\]\s+(.*)$")
for line in open(sys.argv[1], errors="replace"):
    m = line_re.match(line)
    if not m:
        continue
    pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
    if "CRC32C" in sym or "crc32c" in sym or "validateBatches" in sym:
        layers["crc32c (batch validation)"] += pct
    elif "AMQKafkaProtocol" in sym or ("AMQAgent" in sym and ("Kafka" in sym or "Handler" in sym)):
        layers["kafka protocol (codec, framing, handlers)"] += pct
    elif "AMQStorage" in sym or "AMQObjectStore" in sym:
        layers["storage engine"] += pct
    elif "AMQControlPlane" in sym or "AsyncHTTPClient" in sym or "Hummingbird" in sym:
        layers["control plane client"] += pct
    elif "NIO" in sym:
        layers["swift-nio"] += pct
    elif dso.startswith("[kernel") or "libswift" in dso or "libc" in dso or "libdispatch" in dso or "libFoundation" in dso:
        layers["swift runtime / libc / kernel"] += pct
    else:
        layers["other"] += pct
print(json.dumps({"samples_pct": {k: round(v, 1) for k, v in layers.items()}}))
