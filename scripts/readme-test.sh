#!/usr/bin/env bash
# Follows README.md literally: takes the demo command and the curl commands
# from its "Try it" section, runs the demo in the background, calls the
# webhook with the README's curl, checks that the sandbox received the
# message, and stops the demo. Run from the repository root (CI runs it on
# its fresh clone).
set -euo pipefail
cd "$(dirname "$0")/.."

# The fenced ```sh blocks of the "## Try it" section, in order.
blocks() {
  awk '
    /^## / { section = $0 }
    section == "## Try it" && /^```sh$/ { inblock = 1; n++; next }
    inblock && /^```$/ { inblock = 0; next }
    inblock { print n "\t" $0 }
  ' README.md
}
demo_cmd=$(blocks | awk -F'\t' '$1 == 1 { print $2 }')
curl_cmds=$(blocks | awk -F'\t' '$1 == 2 { print $2 }')
[ "$demo_cmd" = "go run ./tools/demo" ] || { echo "README's demo command changed: $demo_cmd"; exit 1; }
[ -n "$curl_cmds" ] || { echo "README has no curl commands in Try it"; exit 1; }

log=$(mktemp)
# The demo runs until interrupted; -for is only a safety net for CI. Job
# control puts it in its own process group, so Ctrl-C (SIGINT to the group)
# reaches the program `go run` starts, as it would in a terminal.
set -m
$demo_cmd -for 600s >"$log" 2>&1 &
demo=$!
set +m
stop_demo() { kill -INT -- "-$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; }
cleanup() { stop_demo; }
trap cleanup EXIT

for _ in $(seq 1 300); do
  grep -q "Herald is running" "$log" && break
  if ! kill -0 "$demo" 2>/dev/null; then echo "demo exited:"; cat "$log"; exit 1; fi
  sleep 1
done
grep -q "Herald is running" "$log" || { echo "demo did not start:"; cat "$log"; exit 1; }

echo "== running the README's curl commands"
out=$(bash -c "$curl_cmds")
echo "$out" | head -c 2000; echo
echo "$out" | grep -q '"run_ids"' || { echo "the webhook did not answer with run ids"; exit 1; }

# The run is asynchronous: wait until the sandbox saw the README's recipient.
for _ in $(seq 1 60); do
  if curl -s http://127.0.0.1:8090/_sandbox/requests | grep -q '14155550199'; then
    echo "README test: the sandbox received the webhook's message"
    # The README points at the console: it must answer there.
    curl -fsS http://127.0.0.1:8080/ui/runs | grep -q 'Runs · Herald' ||
      { echo "the console at http://127.0.0.1:8080/ui/ did not answer"; exit 1; }
    echo "README test: the console answers at http://127.0.0.1:8080/ui/"
    stop_demo
    trap - EXIT
    tail -5 "$log"
    echo "1 passed, 0 failed"
    exit 0
  fi
  sleep 1
done
echo "the sandbox never received the message:"; cat "$log"
exit 1
