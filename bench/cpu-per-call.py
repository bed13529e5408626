#!/usr/bin/env python3
import re,sys,collections
# Per-call CPU of the bench client JVM and of the servers, from jdk.CPULoad events (jfr print --events jdk.CPULoad X.jfr > X.cpu.txt).
# usage: cpu-per-call.py client.cpu.txt strata-server.cpu.txt echo-server.cpu.txt bench-console.log
def load(f):
    out=[];ts=None
    for l in open(f):
        m=re.match(r'\s*startTime = (\d\d):(\d\d):(\d\d)\.(\d+)',l)
        if m: ts=int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3)); cur={'ts':ts}; continue
        m=re.match(r'\s*(jvmUser|jvmSystem|machineTotal) = ([\d.]+)%',l)
        if m:
            cur[m.group(1)]=float(m.group(2))
            if m.group(1)=='machineTotal': out.append(cur)
    return out
cl=load(sys.argv[1]); sv=load(sys.argv[2]); ec=load(sys.argv[3])
wins=[]
for line in open(sys.argv[4]):
    m=re.match(r'\[peers (\d\d:\d\d:\d\d)\] (\w+) clients=(\d+) rep \d+ (Strata|gRPC echo|PostgreSQL|RocksDB)\s+([\d,]+) ops/s',line)
    if not m: continue
    h,mi,s=map(int,m.group(1).split(':')); end=h*3600+mi*60+s
    wins.append((end-3.5,end-0.5,m.group(2),m.group(3),m.group(4),int(m.group(5).replace(',',''))))
def avg(series,a,b,key):
    v=[(e['jvmUser']+e['jvmSystem']) for e in series if a<=e['ts']<=b]
    return sum(v)/len(v) if v else float('nan')
def mach(series,a,b):
    v=[e['machineTotal'] for e in series if a<=e['ts']<=b]
    return sum(v)/len(v) if v else float('nan')
print('workload clients side ops/s | client-JVM% server-JVM% machine% | CPU us per call: client server (2 cores = 200%)')
for a,b,w,c,side,ops in wins:
    if side not in ('Strata','gRPC echo'): continue
    srv = sv if side=='Strata' else ec
    cj=avg(cl,a,b,None); sj=avg(srv,a,b,None); mt=mach(cl,a,b)
    # JFR percentages are of all CPUs (2): 100% = both cores
    cus = cj/100*2e6/ops; sus=sj/100*2e6/ops
    print(f'{w:8} {c:>3} {side:9} {ops:>7} | {cj:5.1f} {sj:5.1f} {mt:5.1f} | {cus:6.1f} {sus:6.1f}')
