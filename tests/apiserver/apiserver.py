#!/usr/bin/env python3
"""A test Kubernetes API server for podnetd's Kubernetes source.

No kube-apiserver can be installed on the test machine, so this serves the
documented Node API (https://kubernetes.io/docs/reference/using-api/api-concepts/)
with objects of the real shape: tests/apiserver/node_template.json has every
field `kubectl get node -o json` shows for a kubeadm v1.28 node (Node v1 API
reference), names and addresses replaced per node:

  GET /api/v1/nodes?limit=N[&continue=T]     NodeList, paginated (continue tokens
                                             expire with 410 Gone after /compact)
  GET /api/v1/nodes?watch=1&resourceVersion=RV[&allowWatchBookmarks=true][&timeoutSeconds=S]
                                             chunked stream of watch events; an RV
                                             older than the compaction gets an ERROR
                                             event with a 410 Status, as the real one

Authentication: a bearer token listed in --token-file (re-read on every request,
so a test can rotate it) and/or a client certificate signed by --client-ca.
TLS with --cert/--key.

A second, plain-HTTP listener (--control) lets the test drive it (POST, JSON body):
  /nodes/apply      {"nodes": [{"name", "podCIDRs": [...], "addresses": [...]}]}
                    (ADDED or MODIFIED events, all at once; "podCIDRs": [] = none yet)
  /nodes/delete     {"names": [...]}
  /watch/drop       cut every open watch connection (no final chunk)
  /watch/gone       ERROR 410 event to every open watch, then end it
  /watch/bookmark   BOOKMARK event to every watch, with a resourceVersion moved on
                    (as if other resources changed)
  /watch/malformed  a line that is not JSON to every watch
  /compact          forget the event history: older resourceVersions get 410
                    ({"bump": true} first moves the resourceVersion on)
  /mode             {"slow": bool (events dribbled out 7 bytes at a time),
                     "failLists": N (next N lists answer 500),
                     "pageSize": N (server-side cap on limit)}
  GET /stats        {"lists", "watches", "authFailures", "activeWatches", "rv", "nodes",
                     "watchQueries", "listQueries" (the last 20 of each)}
State (nodes, resourceVersion) is saved to --state and reloaded at start, so a
restarted server is the same cluster (as etcd behind a real API server).
"""
import argparse
import base64
import copy
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


class Cluster:
    def __init__(self, state_file):
        self.lock = threading.Condition()
        self.state_file = state_file
        self.rv = 1000
        self.nodes = {}  # name -> Node object
        self.history = []  # (rv, line bytes)
        self.compacted = self.rv
        self.watchers = set()
        self.stats = {"lists": 0, "watches": 0, "authFailures": 0, "watchQueries": [], "listQueries": []}
        self.slow = False
        self.fail_lists = 0
        self.page_size = 0
        with open(os.path.join(HERE, "node_template.json")) as f:
            self.template = json.load(f)
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                saved = json.load(f)
            self.rv = saved["rv"]
            self.nodes = saved["nodes"]
            self.compacted = self.rv  # no history survives a restart

    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "nodes": self.nodes}, f)
        os.replace(tmp, self.state_file)

    def make_node(self, spec, old):
        node = copy.deepcopy(old) if old else copy.deepcopy(self.template)
        name = spec["name"]
        md = node["metadata"]
        md["name"] = name
        md["labels"]["kubernetes.io/hostname"] = name
        if not old:
            md["uid"] = "%08x-0000-4000-8000-%012x" % (abs(hash(name)) & 0xFFFFFFFF, self.rv)
            md["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cidrs = spec.get("podCIDRs", [])
        node["spec"].pop("podCIDR", None)
        node["spec"].pop("podCIDRs", None)
        if cidrs:
            node["spec"]["podCIDR"] = cidrs[0]
            if not spec.get("singleOnly"):
                node["spec"]["podCIDRs"] = list(cidrs)
        addrs = [{"type": "InternalIP", "address": a} for a in spec.get("addresses", [])]
        addrs += [{"type": "ExternalIP", "address": a} for a in spec.get("externalAddresses", [])]
        addrs.append({"type": "Hostname", "address": name})
        node["status"]["addresses"] = addrs
        return node

    def emit(self, etype, obj):
        """Records an event; caller holds the lock."""
        full = {"kind": "Node", "apiVersion": "v1", **obj}
        line = (json.dumps({"type": etype, "object": full}, separators=(",", ":")) + "\n").encode()
        self.history.append((self.rv, line))

    def apply(self, specs):
        with self.lock:
            for spec in specs:
                old = self.nodes.get(spec["name"])
                node = self.make_node(spec, old)
                self.rv += 1
                node["metadata"]["resourceVersion"] = str(self.rv)
                self.nodes[spec["name"]] = node
                self.emit("MODIFIED" if old else "ADDED", node)
            self.save()
            self.lock.notify_all()

    def delete(self, names):
        with self.lock:
            for name in names:
                node = self.nodes.pop(name, None)
                if node is None:
                    continue
                self.rv += 1
                node = copy.deepcopy(node)
                node["metadata"]["resourceVersion"] = str(self.rv)
                self.emit("DELETED", node)
            self.save()
            self.lock.notify_all()

    def to_watchers(self, what):
        with self.lock:
            for w in self.watchers:
                w.special.append(what)
            self.lock.notify_all()

    def compact(self):
        with self.lock:
            self.history = []
            self.compacted = self.rv


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Watcher:
    def __init__(self, rv):
        self.rv = rv
        self.special = []


def make_handler(cluster, args):
    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "podnet-test-apiserver"

        def log_message(self, fmt, *a):
            if args.verbose:
                sys.stderr.write("apiserver: " + (fmt % a) + "\n")

        def send_json(self, code, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache, private")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def authorized(self):
            if args.client_ca and isinstance(self.connection, ssl.SSLSocket):
                if self.connection.getpeercert():
                    return True
            if args.token_file:
                try:
                    with open(args.token_file) as f:
                        tokens = {l.strip() for l in f if l.strip()}
                except OSError:
                    tokens = set()
                auth = self.headers.get("Authorization", "")
                return auth.startswith("Bearer ") and auth[7:] in tokens
            return not args.client_ca

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            if url.path != "/api/v1/nodes":
                return self.send_json(404, status_obj(404, "NotFound", "the server could not find the requested resource"))
            if not self.authorized():
                with cluster.lock:
                    cluster.stats["authFailures"] += 1
                return self.send_json(401, status_obj(401, "Unauthorized", "Unauthorized"))
            if q.get("watch") in ("1", "true"):
                return self.watch(q)
            return self.list(q)

        def list(self, q):
            with cluster.lock:
                cluster.stats["lists"] += 1
                cluster.stats["listQueries"] = (cluster.stats["listQueries"] + [self.path])[-20:]
                if cluster.fail_lists > 0:
                    cluster.fail_lists -= 1
                    fail = True
                else:
                    fail = False
                names = sorted(cluster.nodes)
                rv = cluster.rv
                compacted = cluster.compacted
                limit = int(q.get("limit", "0") or 0)
                if cluster.page_size and (limit == 0 or limit > cluster.page_size):
                    limit = cluster.page_size
                start = 0
                cont = q.get("continue")
                if cont:
                    try:
                        tok = json.loads(base64.b64decode(cont))
                        start, rv = tok["start"], tok["rv"]
                    except Exception:
                        return self.send_json(400, status_obj(400, "BadRequest", "invalid continue token"))
                    if rv < compacted:
                        return self.send_json(410, status_obj(
                            410, "Expired", "The provided continue parameter is too old to display a consistent "
                            "list result. You can start a new list without the continue parameter."))
                end = len(names) if limit == 0 else min(len(names), start + limit)
                items = [copy.deepcopy(cluster.nodes[n]) for n in names[start:end]]
            if fail:
                return self.send_json(500, status_obj(500, "InternalError", "etcdserver: request timed out"))
            md = {"resourceVersion": str(rv)}
            if end < len(names):
                md["continue"] = base64.b64encode(json.dumps({"start": end, "rv": rv}).encode()).decode()
                md["remainingItemCount"] = len(names) - end
            self.send_json(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": md, "items": items})

        def chunk(self, data):
            if cluster.slow:
                # Dribble: 7-byte chunks, lines split across chunks and reads.
                for i in range(0, len(data), 7):
                    part = data[i:i + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                    time.sleep(0.002)
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, q):
            try:
                rv = int(q.get("resourceVersion", "0") or 0)
            except ValueError:
                return self.send_json(400, status_obj(400, "BadRequest", "bad resourceVersion"))
            timeout = float(q.get("timeoutSeconds", "1800"))
            bookmarks = q.get("allowWatchBookmarks") == "true"
            deadline = time.monotonic() + timeout
            me = Watcher(rv)
            with cluster.lock:
                cluster.stats["watches"] += 1
                cluster.stats["watchQueries"] = (cluster.stats["watchQueries"] + [self.path])[-20:]
                too_old = rv < cluster.compacted
                cluster.watchers.add(me)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            self.wfile.flush()
            try:
                if too_old:
                    self.chunk((json.dumps({"type": "ERROR", "object": status_obj(
                        410, "Expired", "too old resource version: %d (%d)" % (rv, cluster.compacted))}) + "\n").encode())
                    self.wfile.write(b"0\r\n\r\n")
                    return
                while True:
                    with cluster.lock:
                        while True:
                            pending = [l for (r, l) in cluster.history if r > me.rv]
                            if pending or me.special or time.monotonic() >= deadline:
                                break
                            cluster.lock.wait(max(0.0, min(1.0, deadline - time.monotonic())))
                        if pending:
                            me.rv = max(r for (r, l) in cluster.history if r > me.rv)
                        special, me.special = me.special, []
                        current = cluster.rv
                    if pending:
                        self.chunk(b"".join(pending))
                    for s in special:
                        if s == "drop":
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        if s == "gone":
                            self.chunk((json.dumps({"type": "ERROR", "object": status_obj(
                                410, "Expired", "too old resource version: %d (%d)" % (me.rv, current))}) + "\n").encode())
                            self.wfile.write(b"0\r\n\r\n")
                            return
                        if s == "bookmark" and bookmarks:
                            bm = copy.deepcopy(cluster.template)
                            bm = {"kind": "Node", "apiVersion": "v1",
                                  "metadata": {"resourceVersion": str(current), "creationTimestamp": None},
                                  "spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                                                         "nodeInfo": {k: "" for k in bm["status"]["nodeInfo"]}}}
                            with cluster.lock:
                                me.rv = max(me.rv, current)
                            self.chunk((json.dumps({"type": "BOOKMARK", "object": bm}) + "\n").encode())
                        if s == "malformed":
                            self.chunk(b'{"type":"MODIFIED","object":{"kind":"Node",' + b"\n")
                    if time.monotonic() >= deadline:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        return
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True
            finally:
                with cluster.lock:
                    cluster.watchers.discard(me)

    return Api


def make_control(cluster):
    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with cluster.lock:
                s = dict(cluster.stats)
                s["activeWatches"] = len(cluster.watchers)
                s["rv"] = cluster.rv
                s["nodes"] = sorted(cluster.nodes)
            self.reply(s)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0") or 0)
            body = json.loads(self.rfile.read(n) or b"{}")
            p = self.path
            if p == "/nodes/apply":
                cluster.apply(body["nodes"])
            elif p == "/nodes/delete":
                cluster.delete(body["names"])
            elif p == "/watch/drop":
                cluster.to_watchers("drop")
            elif p == "/watch/gone":
                cluster.to_watchers("gone")
            elif p == "/watch/bookmark":
                # As on a real server, the bookmark's resourceVersion is the
                # store's latest, moved on by other resources meanwhile.
                with cluster.lock:
                    cluster.rv += 1
                    cluster.save()
                cluster.to_watchers("bookmark")
            elif p == "/watch/malformed":
                cluster.to_watchers("malformed")
            elif p == "/compact":
                # {"bump": true}: other resources changed first, so every
                # watcher's resourceVersion is now too old.
                if body.get("bump"):
                    with cluster.lock:
                        cluster.rv += 1
                        cluster.save()
                cluster.compact()
            elif p == "/mode":
                with cluster.lock:
                    cluster.slow = body.get("slow", cluster.slow)
                    cluster.fail_lists = body.get("failLists", cluster.fail_lists)
                    cluster.page_size = body.get("pageSize", cluster.page_size)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with cluster.lock:
                rv = cluster.rv
            self.reply({"rv": rv})

    return Control


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, tls=None):
        host, port = addr
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), handler)
        self.tls = tls

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.tls:
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                sys.stderr.write("apiserver: TLS handshake failed: %s\n" % e)
                return
        super().finish_request(request, client_address)


def hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:6443")
    ap.add_argument("--control", default="127.0.0.1:6444")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--token-file")
    ap.add_argument("--state")
    ap.add_argument("--nodes", help="initial nodes (JSON list of specs) when there is no state")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    cluster = Cluster(args.state)
    if args.nodes and not (args.state and os.path.exists(args.state)):
        with open(args.nodes) as f:
            cluster.apply(json.load(f))
        cluster.compact()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            tls.load_verify_locations(args.client_ca)
            tls.verify_mode = ssl.CERT_OPTIONAL
    api = Server(hostport(args.listen), make_handler(cluster, args), tls)
    control = Server(hostport(args.control), make_control(cluster))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    sys.stderr.write("apiserver: serving %s (control %s)\n" % (args.listen, args.control))
    sys.stderr.flush()
    api.serve_forever()


if __name__ == "__main__":
    main()
