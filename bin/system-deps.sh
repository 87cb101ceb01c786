#!/usr/bin/env bash
# Installs the system packages vmgate needs that npm cannot provide, so the
# README's two commands work on a fresh machine on their own:
#
#   system-deps.sh start   MariaDB server binaries (the embedded default database)
#   system-deps.sh test    the same, plus Debian's chromium (web console tests)
#                          and nginx (scale-out test)
#
# `npm start` and `npm test` run it first (prestart/pretest); `.ci/run` runs
# `npm test`, so CI and a person do exactly the same set-up.
#
# As root with apt-get (Debian/Ubuntu) it installs what is missing. Otherwise
# it prints the exact command to run and, for `test`, stops: a suite that
# cannot run fails loudly rather than skipping. For `start` it only warns —
# the gateway runs without the embedded database (`db` answers
# DB_UNAVAILABLE), or with `--database-url`.
set -euo pipefail

purpose="${1:-test}"
case "$purpose" in
  start | test) ;;
  *)
    echo "usage: $0 start|test" >&2
    exit 2
    ;;
esac

has_mariadb() {
  local dir
  for dir in /usr/sbin /usr/local/sbin /usr/bin /usr/local/bin /usr/local/mysql/bin; do
    [ -x "$dir/mariadbd" ] || [ -x "$dir/mysqld" ] && return 0
  done
  return 1
}

missing=()
# A database named by DATABASE_URL makes the embedded server unnecessary.
if [ -z "${DATABASE_URL:-}" ] && ! has_mariadb; then missing+=(mariadb-server); fi
if [ "$purpose" = test ]; then
  [ -x "${VMGATE_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

install_command="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "vmgate: installing ${missing[*]} (needed by npm $purpose)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Chromium keeps its recommended packages (fonts for the screenshots).
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi

if [ "$purpose" = test ]; then
  echo "vmgate: the test suites need ${missing[*]}; install them first:" >&2
  echo "  sudo sh -c '$install_command'" >&2
  echo "(or set DATABASE_URL to an existing MySQL/MariaDB database, and VMGATE_CHROMIUM to a Chromium binary)" >&2
  exit 1
fi
echo "vmgate: no MariaDB server binaries; the gateway starts without its embedded database." >&2
echo "  install them with: sudo sh -c '$install_command'  (or pass --database-url)" >&2
exit 0
