#!/usr/bin/env bash
# Installs the real components the tests start: net-snmp's agent and tools, snmpsim,
# Prometheus (promtool), Chromium (renders the status page), tshark (the traffic
# oracle), iproute2 (network namespaces for live capture and netlink), unbound (the
# DNS64 resolver), tayga (a NAT64 translator in a test namespace), and snmp_exporter,
# tcpdump and blackbox_exporter (the benchmarks' references), all Debian packages. Idempotent: does nothing when everything is present.
set -euo pipefail

# command → Debian package
declare -A need=(
  [snmpd]=snmpd
  [snmpget]=snmp
  [snmpsimd]=snmpsim
  [promtool]=prometheus
  [prometheus]=prometheus
  [amtool]=prometheus-alertmanager
  [prometheus-snmp-exporter]=prometheus-snmp-exporter
  [chromium]=chromium
  [tshark]=tshark
  [tcpdump]=tcpdump
  [ip]=iproute2
  [tayga]=tayga
  [unbound]=unbound
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [systemd-analyze]=systemd
  [pgrep]=procps
  [dpkg-deb]=dpkg
  [git]=git
)

missing=()
for cmd in "${!need[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("${need[$cmd]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-test-deps: installing ${pkgs[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-test-deps: need root (or sudo) to apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting snmpd/prometheus as system services: the tests
# start their own on random loopback ports.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
