#!/usr/bin/env python3
"""CPU per call of one JVM from its JFR jdk.CPULoad events, per peer-benchmark window (2 cores assumed).
usage: cpu-per-window.py cpuload.txt console.log   (cpuload.txt: jfr print --events jdk.CPULoad x.jfr)"""
import sys,re
cpu,log=sys.argv[1],sys.argv[2]
ev=[];cur={}
for line in open(cpu):
    m=re.match(r'\s+startTime = (\d\d):(\d\d):(\d\d)\.(\d+)',line)
    if m: cur={'ts':int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3))+float('0.'+m.group(4))}; ev.append(cur)
    m=re.match(r'\s+(jvmUser|jvmSystem|machineTotal) = ([\d.]+)%',line)
    if m: cur[m.group(1)]=float(m.group(2))
for line in open(log):
    m=re.match(r'\[peers (\d\d):(\d\d):(\d\d)\] (\S+) (.*?)rep (\d+) (.+?)\s{2,}([\d,]+) ops/s',line)
    if not m: continue
    end=int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3))
    w=[e for e in ev if end-3<=e['ts']<=end and 'jvmUser' in e]
    if not w: continue
    jvm=sum(e['jvmUser']+e['jvmSystem'] for e in w)/len(w)*2/100  # cores busy (2 cores)
    mach=sum(e['machineTotal'] for e in w)/len(w)
    ops=float(m.group(8).replace(',',''))
    print(f"{m.group(4)} {m.group(5).strip()} rep{m.group(6)} {m.group(7):12s} ops/s {ops:8.0f} jvm cores {jvm:4.2f} machine {mach:5.1f}% -> jvm CPU us/op {jvm*1e6/ops:8.1f}")
