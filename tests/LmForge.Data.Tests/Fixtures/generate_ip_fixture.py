#!/usr/bin/env python3
"""Writes ip_is_global.json: addresses with Python's ipaddress verdict (is_global), the oracle for
PublicIpRanges. Run with Debian's /usr/bin/python3: python3 generate_ip_fixture.py"""
import ipaddress, json, random

random.seed(20230828)
addresses = ["8.8.8.8", "1.1.1.1", "192.168.1.1", "10.0.0.1", "127.0.0.1", "172.16.5.4", "172.31.255.255",
             "172.32.0.1", "169.254.10.10", "100.64.0.1", "100.128.0.1", "0.1.2.3", "224.0.0.1", "240.0.0.1",
             "255.255.255.255", "192.0.2.55", "198.51.100.7", "203.0.113.9", "198.18.0.1", "198.20.0.1",
             "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
             "2001:db8::1", "ff02::1", "::ffff:8.8.8.8", "::ffff:192.168.0.1"]
for _ in range(300):
    addresses.append(str(ipaddress.IPv4Address(random.getrandbits(32))))
for _ in range(100):
    addresses.append(str(ipaddress.IPv6Address((0x2000 + random.getrandbits(12)) << 112 | random.getrandbits(112))))
verdicts = {a: ipaddress.ip_address(a).is_global for a in addresses}
with open("ip_is_global.json", "w") as f:
    json.dump(verdicts, f, indent=0)
