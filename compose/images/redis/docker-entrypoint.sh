#!/usr/bin/env bash
# Entrypoint of liar-offline/redis (Debian Redis 7.0). Same contract as the official redis
# image's docker-entrypoint.sh: `-flag`/`x.conf` first arg -> redis-server, chown of /data and
# privilege drop to the redis user (setpriv instead of gosu), umask 0077, redis exec'd as PID 1.
set -e

# first arg is `-f` or `--some-option`, or first arg is `something.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# allow the container to be started with `--user`
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups --inh-caps=-all "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
	# The official image compiles Redis with protected-mode off by default (ports are only
	# reachable when published). Debian's binary defaults to on, so emulate the official
	# default unless the command line or the named config file sets protected-mode itself.
	doProtectedMode=1
	configFile=
	stdinConfig=
	if [ $# -ge 2 ] && [ "${2#-}" = "$2" ]; then
		configFile="$2"
		if [ -f "$configFile" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$configFile"; then
			doProtectedMode=
		fi
	fi
	for arg in "${@:2}"; do
		case "$arg" in
			--protected-mode|--protected-mode=*) doProtectedMode= ;;
			-) stdinConfig=1 ;;
		esac
	done
	case "${2:-}" in
		-v|--version|-h|--help|--test-memory|--check-system|--check-aof|--check-rdb) doProtectedMode= ;;
	esac
	if [ "$doProtectedMode" ]; then
		if [ "$stdinConfig" ]; then
			# config comes from stdin (`redis-server -` ...): put the default first in that
			# stream, so a protected-mode line in the user's stdin config still wins. Read it
			# all now (redis reads stdin to EOF before starting anyway); no helper process stays.
			stdinCopy="$(mktemp)"
			{ printf 'protected-mode no\n'; cat; } >"$stdinCopy"
			exec <"$stdinCopy"
			rm -f "$stdinCopy"
		else
			shift
			if [ "$configFile" ]; then
				shift
				set -- redis-server "$configFile" --protected-mode no "$@"
			else
				set -- redis-server --protected-mode no "$@"
			fi
		fi
	fi

	# set an appropriate umask (if one isn't set already)
	um="$(umask)"
	if [ "$um" = '0022' ]; then
		umask 0077
	fi
fi

exec "$@"
