"""Serves a small EMDB/PDB archive (a folder in the archives' layout) for tests/all/archive.rs,
on 127.0.0.1 only, until its standard input closes:

    python archive_servers.py ARCHIVE_DIR

prints one JSON line: {"http": PORT, "s3": PORT or null, "s3_error": why not, "bucket": NAME}.

The HTTP server answers under a prefix that says how to behave, per file path:
  /plain/...          as a plain static server (GET with Content-Length and Last-Modified, HEAD)
  /fail-once/...      500 to the first GET of each file, then plain
  /truncate-once/...  the first GET of each file announces the whole length, sends half and
                      closes the connection (a server that stops mid-transfer), then plain
  /truncate/...       every GET does that
  /_stats             JSON: GET and HEAD counts per path, to check what a cache saved

The S3 server is moto's (moto[server] from PyPI), filled with boto3 under the prefix `pub/`.
"""

import email.utils
import logging
import http.server
import json
import os
import socket
import sys
import threading
from collections import Counter

ROOT = os.path.abspath(sys.argv[1])
COUNTS = {"GET": Counter(), "HEAD": Counter()}
SEEN = Counter()
LOCK = threading.Lock()
MODES = ("plain", "fail-once", "truncate-once", "truncate")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def target(self):
        parts = self.path.split("?")[0].lstrip("/").split("/", 1)
        if len(parts) != 2 or parts[0] not in MODES:
            return None, None
        relative = os.path.normpath(parts[1])
        if relative.startswith(".."):
            return None, None
        return parts[0], os.path.join(ROOT, relative)

    def headers_for(self, path):
        size = os.path.getsize(path)
        self.send_header("Content-Length", str(size))
        self.send_header("Last-Modified", email.utils.formatdate(os.path.getmtime(path), usegmt=True))
        self.send_header("Content-Type", "application/octet-stream")
        return size

    def do_HEAD(self):
        mode, path = self.target()
        with LOCK:
            COUNTS["HEAD"][self.path] += 1
        if path is None or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.headers_for(path)
        self.end_headers()

    def do_GET(self):
        if self.path == "/_stats":
            body = json.dumps({k: dict(v) for k, v in COUNTS.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        mode, path = self.target()
        with LOCK:
            COUNTS["GET"][self.path] += 1
            SEEN[(mode, path)] += 1
            first = SEEN[(mode, path)] == 1
        if path is None or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "fail-once" and first:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as handle:
            data = handle.read()
        self.send_response(200)
        self.headers_for(path)
        self.end_headers()
        if mode == "truncate" or (mode == "truncate-once" and first):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3(bucket):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        return None, None, f"moto[server] is not installed ({error})"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    for folder, _, files in os.walk(ROOT):
        for name in files:
            path = os.path.join(folder, name)
            key = "pub/" + os.path.relpath(path, ROOT).replace(os.sep, "/")
            client.upload_file(path, bucket, key)
    return server, port, None


def main():
    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    bucket = "archive"
    s3, s3_port, s3_error = start_s3(bucket)
    print(json.dumps({"http": http_server.server_address[1], "s3": s3_port, "s3_error": s3_error, "bucket": bucket}), flush=True)
    sys.stdin.read()
    http_server.shutdown()
    if s3 is not None:
        s3.stop()


if __name__ == "__main__":
    main()
