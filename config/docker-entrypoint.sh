#!/bin/sh
# The container's entrypoint (Dockerfile: ENTRYPOINT ["/bin/sh", "/app/config/docker-entrypoint.sh"]).
# It starts the collector with the image's defaults, and what follows the image name on `docker run`
# (or a compose file's command:) is added to them instead of replacing them:
#
#   docker run … guardduty-wodle                       the defaults
#   docker run … guardduty-wodle --log-level debug     the defaults and --log-level debug
#   docker run … guardduty-wodle --once                the defaults, one pass, then exit
#   docker run … guardduty-wodle --check-config        validates the mounted configuration
#   docker run … guardduty-wodle status --json         the subcommands get the image's --state (status,
#                                                      reset) or --config and --state (explain,
#                                                      import-wazuh), unless given
#   docker run -it … guardduty-wodle sh                a first argument that is not a flag or one of
#                                                      those subcommands runs as a command of its own
#
# The defaults, each left out when the arguments give that flag (as --flag VALUE or --flag=VALUE):
#   --config /etc/guardduty-wodle/ossec.conf  --state /var/lib/guardduty-wodle/state.db
#   --metrics-host 0.0.0.0
# and always --metrics-port "$GUARDDUTY_WODLE_METRICS_PORT" (9464 when unset or empty). The port is
# set with that variable only, because the image's HEALTHCHECK reads the same variable to know where
# to ask /health: --metrics-port among the arguments is refused (exit 2), as is a value that is not a
# port from 1 to 65535. The health check asks 127.0.0.1: a --metrics-host must include loopback
# (0.0.0.0, 127.0.0.1 or ::).
#
# The collector replaces this shell (exec), so that it receives docker stop's SIGTERM itself.
# The collector is ../dist/src/cli.js from this file: /app/dist/src/cli.js in the image, and the
# built one in a clone, where test/packaging.test.ts runs this script with sh.
set -eu

cli="$(dirname -- "$0")/../dist/src/cli.js"
config=/etc/guardduty-wodle/ossec.conf
state=/var/lib/guardduty-wodle/state.db
port=${GUARDDUTY_WODLE_METRICS_PORT:-9464}

fail() {
  printf 'guardduty-wodle: %s\n' "$*" >&2
  exit 2
}

# given FLAG ARG...: whether the arguments name FLAG, as FLAG VALUE or FLAG=VALUE.
given() {
  flag=$1
  shift
  for arg do
    case $arg in
      "$flag" | "$flag"=*) return 0 ;;
    esac
  done
  return 1
}

case ${1-} in
  status | reset)
    command=$1
    shift
    given --state "$@" || set -- --state "$state" "$@"
    exec "$cli" "$command" "$@"
    ;;
  explain | import-wazuh)
    command=$1
    shift
    given --state "$@" || set -- --state "$state" "$@"
    given --config "$@" || set -- --config "$config" "$@"
    exec "$cli" "$command" "$@"
    ;;
  '' | -*) ;;
  *) exec "$@" ;;
esac

case $port in
  '' | *[!0-9]* | ??????*) fail "GUARDDUTY_WODLE_METRICS_PORT=$port: use a port number from 1 to 65535" ;;
esac
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || fail "GUARDDUTY_WODLE_METRICS_PORT=$port: use a port number from 1 to 65535"
if given --metrics-port "$@"; then
  fail "--metrics-port: set the environment variable GUARDDUTY_WODLE_METRICS_PORT instead (docker run -e GUARDDUTY_WODLE_METRICS_PORT=N), so that the health check asks the same port"
fi

given --metrics-host "$@" || set -- --metrics-host 0.0.0.0 "$@"
set -- --metrics-port "$port" "$@"
given --state "$@" || set -- --state "$state" "$@"
given --config "$@" || set -- --config "$config" "$@"
exec "$cli" "$@"
