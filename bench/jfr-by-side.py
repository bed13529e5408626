#!/usr/bin/env python3
"""Top frames (self and inclusive) of JFR execution samples taken while one side of a peer benchmark ran.
usage: jfr-by-side.py samples.txt console.log SIDE SECONDS [N]
  samples.txt: jfr print --events jdk.ExecutionSample --stack-depth 64 x.jfr
  console.log: PeerBenchmark's stderr; each "rep R SIDE" line ends a window of SECONDS (the run's --seconds + 1 s warm-up)"""
import sys,re,collections
samples,log,side,secs=sys.argv[1],sys.argv[2],sys.argv[3],float(sys.argv[4])
N=int(sys.argv[5]) if len(sys.argv)>5 else 40
wins=[]
for line in open(log):
    m=re.match(r'\[peers (\d\d):(\d\d):(\d\d)\] (\S+) (.*?)rep \d+ (.+?)\s{2,}',line)
    if not m or m.group(6).strip()!=side: continue
    end=int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3))
    wins.append((end-secs+0.3,end-0.2))
incl=collections.Counter(); selfc=collections.Counter(); tot=0
ev=None
def done(ev):
    global tot
    if not ev or 'ts' not in ev: return
    if not any(a<=ev['ts']<=b for a,b in wins): return
    tot+=1
    fr=ev['frames']
    if fr: selfc[fr[0]]+=1
    for f in set(fr): incl[f]+=1
for line in open(samples):
    if line.startswith('jdk.ExecutionSample'):
        done(ev); ev={'frames':[],'thread':''}
    elif ev is not None:
        m=re.match(r'\s+startTime = (\d\d):(\d\d):(\d\d)\.(\d+)',line)
        if m: ev['ts']=int(m.group(1))*3600+int(m.group(2))*60+int(m.group(3))+float('0.'+m.group(4)); continue
        m=re.match(r'\s+sampledThread = "(.*?)"',line)
        if m: ev['thread']=m.group(1); continue
        m=re.match(r'\s+([\w$.<>/]+)\(.*line:',line)
        if m: ev['frames'].append(m.group(1))
done(ev)
print('samples',tot,'windows',len(wins))
print('--- self'); [print(f'{c*100/tot:5.1f}% {f}') for f,c in selfc.most_common(N)]
print('--- inclusive'); [print(f'{c*100/tot:5.1f}% {f}') for f,c in incl.most_common(N*2)]
