#!/usr/bin/env bash
# The steps of the aftershock GitHub Action (action.yml), one per argument,
# with the runner's environment: GITHUB_ACTION_PATH, GITHUB_PATH,
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP, GITHUB_REPOSITORY,
# GITHUB_WORKFLOW, GITHUB_RUN_ID and the step's INPUT_* variables.
set -euo pipefail
history_dir="${RUNNER_TEMP:?}/aftershock-history"

case "${1:-}" in
install)
	if [ "${INPUT_VERSION:-source}" = source ]; then
		(cd "$GITHUB_ACTION_PATH/../.." && go install ./cmd/aftershock)
	else
		go install "github.com/aftershock-dev/aftershock/cmd/aftershock@${INPUT_VERSION}"
	fi
	bin="$(go env GOBIN)"
	[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
	echo "$bin" >>"$GITHUB_PATH"
	"$bin/aftershock" version
	;;
history)
	mkdir -p "$history_dir"
	n="${INPUT_HISTORY:-7}"
	if [ "$n" = 0 ]; then
		echo "history: 0 asked; the trend covers this run alone"
		exit 0
	fi
	if ! command -v gh >/dev/null || [ -z "${GH_TOKEN:-}" ]; then
		echo "history: no gh CLI or no token; the trend covers this run alone"
		exit 0
	fi
	ids="$(gh run list -R "$GITHUB_REPOSITORY" --workflow "$GITHUB_WORKFLOW" --status completed -L "$n" --json databaseId -q '.[].databaseId' || true)"
	got=0
	for id in $ids; do
		[ "$id" != "${GITHUB_RUN_ID:-}" ] || continue
		if gh run download "$id" -R "$GITHUB_REPOSITORY" -n "$INPUT_ARTIFACT" -D "$history_dir/$id" >/dev/null 2>&1; then
			got=$((got + 1))
		fi
	done
	echo "history: the reports of $got previous run(s)"
	;;
run)
	args=(run --out "$INPUT_OUT")
	[ -z "${INPUT_NODE_IMAGE:-}" ] || args+=(--node-image "$INPUT_NODE_IMAGE")
	read -r -a extra <<<"${INPUT_ARGS:-}"
	shopt -s nullglob
	# shellcheck disable=SC2206 # the scenarios are globs, expanded here
	files=($INPUT_SCENARIOS)
	if [ "${#files[@]}" = 0 ]; then
		echo "aftershock action: no scenario file matches: $INPUT_SCENARIOS" >&2
		echo "code=2" >>"$GITHUB_OUTPUT"
		exit 0
	fi
	set +e
	aftershock "${args[@]}" "${extra[@]}" "${files[@]}"
	code=$?
	set -e
	echo "code=$code" >>"$GITHUB_OUTPUT"
	;;
trend)
	mkdir -p "$history_dir"
	summary="$(mktemp)"
	set +e
	shopt -s nullglob
	aftershock trend --out "$INPUT_OUT/trend" --summary "$summary" "$history_dir"/* "$INPUT_OUT" >/dev/null
	code=$?
	set -e
	case $code in
	0) echo "regressed=false" >>"$GITHUB_OUTPUT" ;;
	3) echo "regressed=true" >>"$GITHUB_OUTPUT" ;;
	*) echo "aftershock action: trend failed (exit $code); no summary" >&2 ;;
	esac
	[ ! -s "$summary" ] || cat "$summary" >>"$GITHUB_STEP_SUMMARY"
	rm -f "$summary"
	;;
gate)
	if [ "${CODE:-}" != 0 ]; then
		echo "aftershock: the scenarios' gate failed (exit ${CODE:-none}); see the reports and junit.xml" >&2
		exit "${CODE:-2}"
	fi
	if [ "${REGRESSED:-}" = true ] && [ "${INPUT_FAIL_ON_REGRESSION:-true}" = true ]; then
		echo "aftershock: the newest run regressed against the previous ones (see the job summary)" >&2
		exit 3
	fi
	echo "aftershock: gate passed"
	;;
*)
	echo "usage: steps.sh install|history|run|trend|gate" >&2
	exit 64
	;;
esac
