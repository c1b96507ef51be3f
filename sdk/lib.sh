# Shell helpers shared by plugins/build.sh, sdk/js/build.sh and sdk/python/build.sh. Sourced,
# not run.

# Runs "$@" and prints how long it took, under the name $1 (the rest is the command).
timed() {
    local name="$1" start ms
    shift
    start=$(date +%s%N)
    "$@"
    ms=$((($(date +%s%N) - start) / 1000000))
    printf '==> %s: %d.%01d s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100))
}

# Succeeds when OUT ($1) exists and no input (the rest) is newer than it, unless FORCE is set.
up_to_date() {
    local out="$1" input
    shift
    [ -z "${FORCE:-}" ] && [ -f "$out" ] || return 1
    for input in "$@"; do
        [ "$input" -nt "$out" ] && return 1
    done
    return 0
}
