"""p50/p99 of a bare PUT of one object, for comparison with produce latency.

Usage: put_latency.py file:///DIR | s3://BUCKET?endpoint=URL   [BYTES] [COUNT]
file://: write a temp file, fsync, rename (what the local store does); s3://: PutObject (boto3).
Prints {"put_p50_ms": …, "put_p99_ms": …}.
"""
import json
import os
import sys
import time
import urllib.parse

url, size, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 65536, int(sys.argv[3]) if len(sys.argv) > 3 else 200
payload = os.urandom(size)
times = []
if url.startswith("file://"):
    directory = url[len("file://"):]
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        start = time.perf_counter()
        temp = os.path.join(directory, f".put-{i}.tmp")
        with open(temp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, os.path.join(directory, f"put-{i}"))
        times.append(time.perf_counter() - start)
else:
    import boto3
    parsed = urllib.parse.urlparse(url)
    endpoint = urllib.parse.parse_qs(parsed.query)["endpoint"][0]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
                      aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"))
    for i in range(count):
        start = time.perf_counter()
        s3.put_object(Bucket=parsed.netloc, Key=f"put-latency/{i}", Body=payload)
        times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"put_p50_ms": times[len(times) // 2] * 1000, "put_p99_ms": times[int(len(times) * 0.99)] * 1000}))
