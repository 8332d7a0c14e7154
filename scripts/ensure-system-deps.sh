#!/usr/bin/env bash
# Installs the Debian packages the integration tests and the demo need, when missing:
# docker-registry (a real OCI registry, distribution 2.8) and openssl (test certificates).
set -euo pipefail
missing=()
[ -x /usr/bin/docker-registry ] || command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} (Debian packages used by the tests)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "run as root: apt-get install -y ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package's service must not hold port 5000 on a machine with an init system.
$sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
