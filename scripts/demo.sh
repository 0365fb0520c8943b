#!/usr/bin/env bash
# The demo: ingest the sample corpus, start the API, send example requests, keep serving.
# DEMO_EXIT=1 stops the server after the examples (used by tests and CI-like checks).
set -euo pipefail
BIN=${BIN:-.venv/bin}
export KB_HOME=${KB_HOME:-./kb-data}
PORT=${PORT:-8000}
URL="http://127.0.0.1:${PORT}"

echo "== ingesting the sample corpus into ${KB_HOME}"
"$BIN/kb" ingest corpora/sample/faq.jsonl corpora/sample/docs --user-dict corpora/sample/userdict.txt
"$BIN/kb" stats | sed -n 1,10p  # sed reads everything: no SIGPIPE under pipefail
echo "== training the router on the sample FAQ's teams"
"$BIN/kb" train-router corpora/sample/faq.jsonl --text-field question --label-field team

echo "== starting the API on ${URL} (docs at ${URL}/docs)"
"$BIN/kb" serve --port "$PORT" > "${KB_HOME}/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -fs "${URL}/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER 2>/dev/null; then echo "server failed to start:"; cat "${KB_HOME}/serve.log"; exit 1; fi
  sleep 0.5
done

ask() {
  echo
  echo "\$ curl -s ${URL}/v1/ask -H 'content-type: application/json' -d '$1'"
  curl -s "${URL}/v1/ask" -H 'content-type: application/json' -d "$1" | "$BIN/python" -m json.tool --no-ensure-ascii
}
ask '{"question": "扫地机器人充不上电怎么办"}'
ask '{"question": "how long does a refund take to reach my card?"}'
ask '{"question": "Hub X2 的指示灯一直红色闪烁是什么意思", "filters": {"lang": "zh"}}'
ask '{"question": "are you hiring? I would like to apply for a job"}'
ask '{"question": "退款都一个星期了还没到，你们是不是想赖账！！", "customer": {"tier": "vip"}}'
echo
echo "\$ curl -s ${URL}/v1/search -H 'content-type: application/json' -d '{\"query\": \"发票\", \"top_k\": 3}'"
curl -s "${URL}/v1/search" -H 'content-type: application/json' -d '{"query": "发票", "top_k": 3}' \
  | "$BIN/python" -m json.tool --no-ensure-ascii | sed -n 1,40p  # sed reads all: no SIGPIPE

post() {  # post PATH JSON: print the command and the pretty-printed reply
  echo
  echo "\$ curl -s ${URL}$1 -H 'content-type: application/json' -d '$2'"
  curl -s "${URL}$1" -H 'content-type: application/json' -d "$2" | tee "${KB_HOME}/last.json" \
    | "$BIN/python" -m json.tool --no-ensure-ascii
}
field() { "$BIN/python" -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or '')" \
  "${KB_HOME}/last.json" "$1"; }

echo
echo "== self-learning: a handed-off question, an agent's resolution, an editor's approval, the same question again"
STUDENT='{"question": "do you offer a student discount?"}'
post /v1/ask "$STUDENT"
if [ "$(field decision)" = "answer" ]; then
  echo "(already learned in an earlier run of the demo)"
else
  post /v1/resolutions "{\"resolution_id\": \"demo-$(date +%s)\", \"request_id\": \"$(field request_id)\",
    \"answer\": \"Yes: students get 10% off every order after verifying a student e-mail address in Account > Offers.\",
    \"agent\": \"demo-agent\", \"team\": \"billing\"}"
  CANDIDATE=$(field candidate_id)
  if [ -n "$CANDIDATE" ]; then
    post "/v1/candidates/${CANDIDATE}" '{"action": "approve", "editor": "demo-editor"}'
    post /v1/ask "$STUDENT"
  fi
fi
echo
echo "\$ curl -s '${URL}/v1/gaps?days=1&limit=3'   # knowledge gaps: handed-off questions, clustered"
curl -s "${URL}/v1/gaps?days=1&limit=3" | "$BIN/python" -m json.tool --no-ensure-ascii

if [ "${DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo
echo "== serving on ${URL}; try the requests above or ${URL}/docs. Ctrl-C to stop."
wait $SERVER
