#!/usr/bin/env python3
"""Aggregate JFR execution samples (jfr print --events jdk.ExecutionSample) by bench phase.
usage: jfr-by-phase.py samples.txt bench.log  -> per phase: samples by thread group, top self frames, top strata frames (inclusive)"""
import sys, re, collections
samples_txt, benchlog = sys.argv[1], sys.argv[2]
# phases: Strata rep lines "[peers HH:MM:SS] <wl> clients=N [batch=..] rep R Strata ..."
wins=[]
for line in open(benchlog):
    m=re.match(r'\[peers (\d\d:\d\d(?::\d\d)?)\] (\w+) (.*?)rep \d+ (Strata|gRPC echo)\s', line)
    if not m or m.group(4)!='Strata': continue
    t=m.group(1)
    if len(t)==5: t+=':00'
    h,mi,s=map(int,t.split(':')); end=h*3600+mi*60+s
    label=m.group(2)+' '+m.group(3).strip()
    wins.append((end-3.2,end+0.2,label))
def phase(ts):
    for a,b,l in wins:
        if a<=ts<=b: return l
    return None
def tgroup(name):
    n=re.sub(r'\d+','N',name)
    return n
self_by=collections.defaultdict(collections.Counter)
incl_by=collections.defaultdict(collections.Counter)
thr_by=collections.defaultdict(collections.Counter)
tot=collections.Counter()
cur=None
def flush(ev):
    if not ev or ev.get('ts') is None: return
    p=phase(ev['ts'])
    if p is None: return
    tot[p]+=1
    thr_by[p][tgroup(ev.get('thread','?'))]+=1
    fr=ev['frames']
    if fr: self_by[p][fr[0]]+=1
    seen=set()
    for f in fr:
        if f.startswith('dev.strata') and f not in seen:
            seen.add(f); incl_by[p][f]+=1
ev=None
for line in open(samples_txt, errors='replace'):
    line=line.rstrip()
    if line.startswith('jdk.ExecutionSample'):
        flush(ev); ev={'frames':[],'ts':None}
    elif ev is not None:
        m=re.match(r'\s*startTime = (\d\d):(\d\d):(\d\d)\.(\d+)',line)
        if m:
            ev['ts']=int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3))+float('0.'+m.group(4)); continue
        m=re.match(r'\s*sampledThread = "(.*?)"',line)
        if m: ev['thread']=m.group(1); continue
        m=re.match(r'\s+([\w$.<>]+\(.*?\))\s+line:',line)
        if m: ev['frames'].append(re.sub(r'\(.*\)','()',m.group(1)))
flush(ev)
# merge phases by workload label without rep
order=[]
for a,b,l in wins:
    if l not in order: order.append(l)
for p in order:
    n=tot[p]
    if not n: continue
    print(f'== {p}: {n} samples')
    print('  threads: '+', '.join(f'{k} {100*v/n:.0f}%' for k,v in thr_by[p].most_common(6)))
    print('  top self: ')
    for k,v in self_by[p].most_common(12): print(f'    {100*v/n:5.1f}% {k}')
    print('  strata inclusive: ')
    for k,v in incl_by[p].most_common(12): print(f'    {100*v/n:5.1f}% {k}')
