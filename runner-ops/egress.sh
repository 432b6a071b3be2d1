#!/usr/bin/env bash
# Sets up (or removes) the GPU host's job network: jobs run on a Docker network with no route
# out (`--internal`), and their only way out is the allowlisting proxy (egress/squid.conf), which
# reaches GitHub and the Hugging Face Hub on port 443 and nothing else. Host firewall rules keep
# the proxy itself away from internal networks and the cloud metadata service. Run as root at
# boot (runner-ops/systemd/arena-egress.service). See docs/runner.md.
#
#   egress.sh up     build the proxy image, create the networks, start the proxy, add the rules
#   egress.sh down   remove all of it
#
# Settings (environment): ARENA_JOB_SUBNET (default 172.30.0.0/24), ARENA_EGRESS_SUBNET
# (default 172.31.0.0/24), ARENA_DNS (resolvers the proxy may query; default: the host's
# non-loopback nameservers from /etc/resolv.conf).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
job_net=arena-jobs egress_net=arena-egress proxy=arena-egress-proxy image=arena-egress-proxy:local
job_subnet=${ARENA_JOB_SUBNET:-172.30.0.0/24}
egress_subnet=${ARENA_EGRESS_SUBNET:-172.31.0.0/24}
chain=ARENA-EGRESS
internal_ranges=(10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.168.0.0/16)

say() { printf 'egress.sh: %s\n' "$*"; }
die() { printf 'egress.sh: %s\n' "$*" >&2; exit 2; }

resolvers() {
  if [ -n "${ARENA_DNS:-}" ]; then
    local list
    read -ra list <<<"${ARENA_DNS//,/ }"
    printf '%s\n' "${list[@]}"
  else
    awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 != "::1" { print $2 }' /etc/resolv.conf
  fi
}

up() {
  [ "$(id -u)" = 0 ] || die "run as root: it changes Docker networks and the host firewall"
  say "building the proxy image"
  docker build --quiet --tag "$image" "$here/egress" >/dev/null

  docker network inspect "$job_net" >/dev/null 2>&1 ||
    docker network create --internal --subnet "$job_subnet" "$job_net" >/dev/null
  docker network inspect "$egress_net" >/dev/null 2>&1 ||
    docker network create --subnet "$egress_subnet" "$egress_net" >/dev/null
  say "networks: $job_net ($job_subnet, no route out), $egress_net ($egress_subnet)"

  docker rm --force "$proxy" >/dev/null 2>&1 || true
  docker run --detach --name "$proxy" --restart unless-stopped --network "$egress_net" \
    --mount "type=bind,source=$here/egress/squid.conf,target=/etc/squid/squid.conf,readonly" \
    --read-only --tmpfs /var/spool/squid:uid=13,gid=13 --tmpfs /var/log/squid:uid=13,gid=13 --tmpfs /run \
    --cap-drop ALL --security-opt no-new-privileges:true \
    "$image" >/dev/null
  docker network connect "$job_net" "$proxy"
  say "proxy $proxy listening on $job_net at http://$proxy:3128"

  # The proxy's own traffic: DNS to the resolvers, then nothing internal, then HTTPS only.
  iptables -N "$chain" 2>/dev/null || iptables -F "$chain"
  local dns any=0 range
  while read -r dns; do
    any=1
    iptables -A "$chain" -d "$dns" -p udp --dport 53 -j RETURN
    iptables -A "$chain" -d "$dns" -p tcp --dport 53 -j RETURN
  done < <(resolvers)
  [ "$any" = 1 ] || die "no DNS resolver found; set ARENA_DNS"
  for range in "${internal_ranges[@]}"; do
    iptables -A "$chain" -d "$range" -j DROP
  done
  iptables -A "$chain" -p tcp --dport 443 -j RETURN
  iptables -A "$chain" -j DROP
  iptables -C DOCKER-USER -s "$egress_subnet" -j "$chain" 2>/dev/null ||
    iptables -I DOCKER-USER -s "$egress_subnet" -j "$chain"
  # Jobs: Docker's --internal already drops everything leaving $job_net; say so twice.
  iptables -C DOCKER-USER -s "$job_subnet" ! -d "$job_subnet" -j DROP 2>/dev/null ||
    iptables -I DOCKER-USER -s "$job_subnet" ! -d "$job_subnet" -j DROP
  say "firewall: $egress_subnet may reach DNS and port 443 outside internal ranges; $job_subnet nothing"
}

down() {
  [ "$(id -u)" = 0 ] || die "run as root"
  iptables -D DOCKER-USER -s "$egress_subnet" -j "$chain" 2>/dev/null || true
  iptables -D DOCKER-USER -s "$job_subnet" ! -d "$job_subnet" -j DROP 2>/dev/null || true
  iptables -F "$chain" 2>/dev/null || true
  iptables -X "$chain" 2>/dev/null || true
  docker rm --force "$proxy" >/dev/null 2>&1 || true
  docker network rm "$job_net" "$egress_net" >/dev/null 2>&1 || true
  say "removed the proxy, the networks and the rules"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
