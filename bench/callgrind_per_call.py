# Inclusive instructions per call of functions in a callgrind output file, from its call records
# (calls=N lines under cfn= entries, summed over callers).
#   python3 bench/callgrind_per_call.py callgrind.out 'ChunkCache::Lookup(' ...
import re, sys
path = sys.argv[1]
names = {}
calls = {}
incl = {}
cur_cfn = None
pending_calls = None
with open(path) as f:
    for line in f:
        line = line.rstrip('\n')
        m = re.match(r'^(fn|cfn)=\((\d+)\)(?: (.*))?$', line)
        if m:
            kind, ident, name = m.groups()
            if name: names[ident] = name
            if kind == 'cfn': cur_cfn = ident
            continue
        m = re.match(r'^calls=(\d+)', line)
        if m:
            pending_calls = int(m.group(1)); continue
        if pending_calls is not None:
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            calls[cur_cfn] = calls.get(cur_cfn, 0) + pending_calls
            incl[cur_cfn] = incl.get(cur_cfn, 0) + cost
            pending_calls = None
for want in sys.argv[2:]:
    for ident, name in names.items():
        if want in name and ident in calls:
            print(f"{incl[ident] / calls[ident]:10.1f} Ir/call  {calls[ident]:>9} calls  {name[:110]}")
