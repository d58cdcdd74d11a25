#!/usr/bin/env python3
"""Write N LoadBalancer Services (and their EndpointSlices) for a `dir:` manifest source.

usage: gen_services.py OUTDIR N [BASE [NODE [PER_FILE]]]
  BASE      the first Service's address (default 10.60.0.0): Service sK carries BASE+K in
            status.loadBalancer.ingress (so ferrolb restores it rather than allocating one)
  NODE      the node of each Service's one ready endpoint (default node1)
  PER_FILE  Services per file (default 500; ferrolb's YAML loader takes at most 1,024
            documents per file, and each Service comes with its EndpointSlice)
Files: OUTDIR/svc-0000.yaml, svc-0001.yaml, ... (Services s0..s499 in the first, and so on).
Each Service: namespace default, single-stack IPv4, clusterIP 10.96.0.0+K, ETP Cluster, port 80;
its EndpointSlice sK-a: one ready endpoint 10.128.0.0+K on NODE.
"""
import ipaddress
import os
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, n = sys.argv[1], int(sys.argv[2])
    base = int(ipaddress.IPv4Address(sys.argv[3] if len(sys.argv) > 3 else "10.60.0.0"))
    node = sys.argv[4] if len(sys.argv) > 4 else "node1"
    per = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    cbase = int(ipaddress.IPv4Address("10.96.0.0"))
    ebase = int(ipaddress.IPv4Address("10.128.0.0"))
    for k in range(0, n, per):
        with open(os.path.join(out, f"svc-{k // per:04d}.yaml"), "w") as f:
            for i in range(k, min(n, k + per)):
                ip, cip, eip = (str(ipaddress.IPv4Address(b + i)) for b in (base, cbase, ebase))
                f.write(f"""---
apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: default}}
spec: {{type: LoadBalancer, clusterIP: {cip}, clusterIPs: [{cip}], ipFamilies: [IPv4], ipFamilyPolicy: SingleStack, ports: [{{port: 80, protocol: TCP}}]}}
status: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: s{i}-a, namespace: default, labels: {{kubernetes.io/service-name: s{i}}}}}
addressType: IPv4
endpoints: [{{addresses: [{eip}], conditions: {{ready: true}}, nodeName: {node}}}]
ports: [{{port: 80, protocol: TCP}}]
""")


if __name__ == "__main__":
    main()
