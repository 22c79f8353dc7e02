"""A DNS server on loopback for tests and benchmarks (python3-dnslib), answering from a zone given as JSON.

Usage: /usr/bin/python3 support/dns-server.py   (zone lines on stdin; see support/dns.ts)

It binds UDP and TCP on 127.0.0.1 (one free port for both), prints "port N", then reads JSON lines on
stdin; each replaces the zone and is acknowledged with "ok". A zone:
  {"records": [[name, type, value, ttl?], ...],   type A, AAAA, TXT (string or list), MX ([prio, host]),
                                                  PTR, CNAME, NS
   "servfail": [name, ...],                        answered SERVFAIL (any type)
   "drop": [name, ...],                            never answered (the client times out)
   "soa_ttl": N}                                   negative TTL in the SOA of NXDOMAIN/NODATA answers
A name with records of other types answers NODATA; an unknown name NXDOMAIN. UDP answers over 1232 octets
are truncated (TC set), so clients retry over TCP. Every query is printed as
"Q name type" (names lower-cased, without the trailing dot), so tests can count look-ups.
"""
import json
import socket
import sys
import threading
import time

from dnslib import A, AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

lock = threading.Lock()
print_lock = threading.Lock()
zone = {"records": {}, "servfail": set(), "drop": set(), "soa_ttl": 60}


def norm(name):
    return str(name).rstrip(".").lower()


def load(spec):
    records = {}
    for row in spec.get("records", []):
        name, rtype, value = norm(row[0]), row[1].upper(), row[2]
        ttl = row[3] if len(row) > 3 else 300
        records.setdefault(name, []).append((rtype, value, ttl))
    return {
        "records": records,
        "servfail": {norm(n) for n in spec.get("servfail", [])},
        "drop": {norm(n) for n in spec.get("drop", [])},
        "soa_ttl": int(spec.get("soa_ttl", 60)),
    }


def rdata(rtype, value):
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "TXT":
        if isinstance(value, list):
            return TXT([v.encode() for v in value])
        data = value.encode()
        return TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])
    if rtype == "MX":
        return MX(value[1], value[0])
    if rtype == "PTR":
        return PTR(value)
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "NS":
        return NS(value)
    raise ValueError(rtype)


class Drop(Exception):
    pass


class ZoneResolver(BaseResolver):
    def resolve(self, request, handler):
        qname = norm(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        with print_lock:  # handler threads print at once; one whole line each
            sys.stdout.write("Q %s %s\n" % (qname, qtype))
            sys.stdout.flush()
        with lock:
            z = zone
        reply = request.reply()
        if qname in z["drop"]:
            time.sleep(30)  # the client gives up first; the handler thread is a daemon
            return reply
        if qname in z["servfail"]:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        name = qname
        for _ in range(8):
            rows = z["records"].get(name)
            if rows is None:
                break
            wanted = [r for r in rows if r[0] == qtype]
            if wanted:
                for rtype, value, ttl in wanted:
                    reply.add_answer(RR(name + ".", QTYPE.reverse[rtype], rdata=rdata(rtype, value), ttl=ttl))
                return reply
            cname = [r for r in rows if r[0] == "CNAME"]
            if not cname:
                break
            reply.add_answer(RR(name + ".", QTYPE.CNAME, rdata=CNAME(cname[0][1]), ttl=cname[0][2]))
            name = norm(cname[0][1])
        if name not in z["records"]:
            reply.header.rcode = RCODE.NXDOMAIN
        soa = SOA("ns.test.", "hostmaster.test.", (1, 3600, 600, 86400, z["soa_ttl"]))
        reply.add_auth(RR("test.", QTYPE.SOA, rdata=soa, ttl=z["soa_ttl"]))
        return reply


class TruncatingHandler(DNSHandler):
    # UDP answers longer than an EDNS0 client's usual payload come back truncated (TC), as real servers do
    udplen = 1232


class QuietLogger:
    def __getattr__(self, _name):
        return lambda *a, **k: None


def free_port():
    # one port free for both UDP and TCP
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


def main():
    global zone
    port = free_port()
    resolver = ZoneResolver()
    udp = DNSServer(resolver, port=port, address="127.0.0.1", logger=QuietLogger(), handler=TruncatingHandler)
    tcp = DNSServer(resolver, port=port, address="127.0.0.1", tcp=True, logger=QuietLogger())
    udp.start_thread()
    tcp.start_thread()
    print("port %d" % port, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        new = load(json.loads(line))
        with lock:
            zone = new
        with print_lock:
            sys.stdout.write("ok\n")
            sys.stdout.flush()
    udp.stop()
    tcp.stop()


if __name__ == "__main__":
    main()
