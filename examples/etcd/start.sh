#!/bin/sh
# The etcd example's command, run by cc-init in every VM of a simulation
# (chaoscontrol pack --cmd '/etc/etcd-example/start.sh'). cc-init sets
# CC_ID, CC_VMS, CC_NAME, CC_IP, CC_PEERS (node0,node1,...) and
# CC_PEER_IPS (10.0.0.1,...). Every VM runs an etcd member of one cluster;
# VM 0 also runs the client workload once the cluster has a leader:
# ETCD_KEYS puts (default 100), then reads every key back and checks it.
# Set ETCD_WORKLOAD=none (kernel command line) for servers only. With
# etcd_probe=1 every member then puts a key through its own endpoint once a
# second and says whether that worked: who still serves under a fault.
# With etcd_members=M (kernel command line) only VMs 0..M-1 run members;
# the VMs after them are clients (they run the test commands, see
# README.md) and run no etcd.
# Messages carry the virtual time (seconds since boot).
set -u
t() { cut -d' ' -f1 /proc/uptime; }
members=${etcd_members:-$CC_VMS}
if [ "$CC_ID" -ge "$members" ]; then
  echo "client: VM $CC_ID runs no etcd member (etcd_members=$members)"
  while :; do sleep 3600; done
fi
cluster=
endpoints=
i=0
for ip in $(echo "$CC_PEER_IPS" | tr ',' ' '); do
  [ $i -ge "$members" ] && break
  cluster="${cluster:+$cluster,}node$i=http://$ip:2380"
  endpoints="${endpoints:+$endpoints,}http://$ip:2379"
  i=$((i + 1))
done

etcd --name "$CC_NAME" --data-dir /tmp/etcd \
  --listen-peer-urls "http://$CC_IP:2380" \
  --initial-advertise-peer-urls "http://$CC_IP:2380" \
  --listen-client-urls "http://$CC_IP:2379,http://127.0.0.1:2379" \
  --advertise-client-urls "http://$CC_IP:2379" \
  --initial-cluster "$cluster" --initial-cluster-state new \
  --initial-cluster-token chaoscontrol \
  --heartbeat-interval 100 --election-timeout 1000 \
  --logger zap --log-level info &
etcd_pid=$!

probe() {
  [ "${etcd_probe:-0}" = 1 ] || { wait $etcd_pid; exit $?; }
  i=0
  while kill -0 $etcd_pid 2>/dev/null; do
    i=$((i + 1))
    if etcdctl --endpoints http://127.0.0.1:2379 --command-timeout 2s put "probe-$CC_NAME" "$i" \
         >/dev/null 2>&1; then
      echo "probe: $(t) put $i ok"
    else
      echo "probe: $(t) put $i failed"
    fi
    sleep 1
  done
  wait $etcd_pid
}

export ETCDCTL_API=3
if [ "$CC_ID" != 0 ] || [ "${ETCD_WORKLOAD:-}" = none ]; then
  probe
  exit $?
fi

n=0
until etcdctl --endpoints "$endpoints" --dial-timeout 1s endpoint status >/dev/null 2>&1; do
  n=$((n + 1))
  [ $n -gt 60 ] && { echo "workload: the cluster did not come up"; exit 1; }
  sleep 1
done
leader=$(etcdctl --endpoints "$endpoints" endpoint status -w fields 2>/dev/null |
         sed -n 's/^"Leader" : //p' | head -1)
echo "workload: $(t) the cluster is up (leader id $leader)"
keys=${ETCD_KEYS:-100}
i=0
while [ $i -lt "$keys" ]; do
  etcdctl --endpoints "$endpoints" put "key$i" "value$i" >/dev/null || { echo "workload: put key$i failed"; exit 1; }
  i=$((i + 1))
done
echo "workload: $(t) wrote $keys keys"
i=0 good=0
while [ $i -lt "$keys" ]; do
  v=$(etcdctl --endpoints "$endpoints" get "key$i" --print-value-only)
  [ "$v" = "value$i" ] && good=$((good + 1))
  i=$((i + 1))
done
echo "workload: $(t) read back $good of $keys keys correctly"
[ "$good" = "$keys" ] || exit 1
probe
