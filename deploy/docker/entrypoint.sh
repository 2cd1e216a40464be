#!/bin/sh
# The deskbot image's entrypoint.
#
#   serve [OPTION...]   (the default; also when the first argument is an option) run the
#                       migrations first when DESKBOT_MIGRATE_ON_START is 1, true, yes or on,
#                       then become `deskbot serve --host 0.0.0.0 --port $PORT [OPTION...]`
#   migrate             run the database migrations and exit (a migration job)
#   anything else       run as given, e.g. `deskbot kb import /kb` or `sh`
#
# Every command is exec'd: deskbot replaces this shell and receives SIGTERM itself.
set -eu

command="${1:-serve}"
case "$command" in
    -*) command=serve ;;
    *) if [ "$#" -gt 0 ]; then shift; fi ;;
esac

case "$command" in
    serve)
        case "$(printf '%s' "${DESKBOT_MIGRATE_ON_START:-}" | tr '[:upper:]' '[:lower:]')" in
            1 | true | yes | on) deskbot migrate ;;
            "" | 0 | false | no | off) ;;
            *)
                echo "DESKBOT_MIGRATE_ON_START must be one of 1, true, yes, on, 0, false, no," \
                    "off; it is '${DESKBOT_MIGRATE_ON_START}'" >&2
                exit 2
                ;;
        esac
        exec deskbot serve --host 0.0.0.0 --port "${PORT:-8080}" "$@"
        ;;
    migrate)
        exec deskbot migrate "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
