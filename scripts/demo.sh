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

echo "== API keys for the demo's callers (every /v1 route needs one; the secret is shown once, stored hashed)"
key() {  # key NAME ROLE: create a key that expires in a day, print its id and role, return the secret
  "$BIN/kb" keys create "$1" --role "$2" --expires 1d --json \
    | "$BIN/python" -c "import json,sys; k=json.load(sys.stdin); print(k['key']['id'], k['key']['role'], file=sys.stderr); print(k['secret'])"
}
CHATBOT_KEY=$(key demo-chatbot chatbot)
AGENT_KEY=$(key demo-agent agent)
EDITOR_KEY=$(key demo-editor editor)

echo "== starting the API on ${URL} (docs at ${URL}/docs)"
"$BIN/kb" serve --port "$PORT" > "${KB_HOME}/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -fs "${URL}/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER 2>/dev/null; then echo "server failed to start:"; cat "${KB_HOME}/serve.log"; exit 1; fi
  sleep 0.5
done

echo
echo "== editors beside the running API: kb commands on ${KB_HOME} are sent to the server (see ${KB_HOME}/server.json)"
"$BIN/kb" ingest corpora/sample/faq.jsonl   # a job of the server, with its progress; unchanged files are skipped
"$BIN/kb" review | sed -n 1,6p

ask() {
  echo
  echo "\$ curl -s ${URL}/v1/ask -H \"Authorization: Bearer \$CHATBOT_KEY\" -H 'content-type: application/json' -d '$1'"
  curl -s "${URL}/v1/ask" -H "Authorization: Bearer ${CHATBOT_KEY}" -H 'content-type: application/json' -d "$1" \
    | "$BIN/python" -m json.tool --no-ensure-ascii
}
ask '{"question": "扫地机器人充不上电怎么办"}'
ask '{"question": "how long does a refund take to reach my card?"}'
ask '{"question": "Hub X2 的指示灯一直红色闪烁是什么意思", "filters": {"lang": "zh"}}'
ask '{"question": "are you hiring? I would like to apply for a job"}'
ask '{"question": "退款都一个星期了还没到，你们是不是想赖账！！", "customer": {"tier": "vip"}}'
echo
echo "\$ curl -s ${URL}/v1/search -H \"Authorization: Bearer \$CHATBOT_KEY\" -H 'content-type: application/json' -d '{\"query\": \"发票\", \"top_k\": 3}'"
curl -s "${URL}/v1/search" -H "Authorization: Bearer ${CHATBOT_KEY}" -H 'content-type: application/json' \
  -d '{"query": "发票", "top_k": 3}' \
  | "$BIN/python" -m json.tool --no-ensure-ascii | sed -n 1,40p  # sed reads all: no SIGPIPE

post() {  # post KEYVAR PATH JSON: print the command and the pretty-printed reply
  local var=$1; shift
  echo
  echo "\$ curl -s ${URL}$1 -H \"Authorization: Bearer \$${var}\" -H 'content-type: application/json' -d '$2'"
  curl -s "${URL}$1" -H "Authorization: Bearer ${!var}" -H 'content-type: application/json' -d "$2" \
    | tee "${KB_HOME}/last.json" \
    | "$BIN/python" -m json.tool --no-ensure-ascii
}
field() { "$BIN/python" -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or '')" \
  "${KB_HOME}/last.json" "$1"; }

echo
echo "== self-learning: a handed-off question, an agent's resolution, an editor's approval, the same question again"
STUDENT='{"question": "do you offer a student discount?"}'
post CHATBOT_KEY /v1/ask "$STUDENT"
if [ "$(field decision)" = "answer" ]; then
  echo "(already learned in an earlier run of the demo)"
else
  post AGENT_KEY /v1/resolutions "{\"resolution_id\": \"demo-$(date +%s)\", \"request_id\": \"$(field request_id)\",
    \"answer\": \"Yes: students get 10% off every order after verifying a student e-mail address in Account > Offers.\",
    \"agent\": \"demo-agent\", \"team\": \"billing\"}"
  CANDIDATE=$(field candidate_id)
  if [ -n "$CANDIDATE" ]; then
    post EDITOR_KEY "/v1/candidates/${CANDIDATE}" '{"action": "approve", "editor": "demo-editor"}'
    post CHATBOT_KEY /v1/ask "$STUDENT"
  fi
fi
echo
echo "\$ curl -s '${URL}/v1/gaps?days=1&limit=3' -H \"Authorization: Bearer \$EDITOR_KEY\"   # knowledge gaps: handed-off questions, clustered"
curl -s "${URL}/v1/gaps?days=1&limit=3" -H "Authorization: Bearer ${EDITOR_KEY}" \
  | "$BIN/python" -m json.tool --no-ensure-ascii
echo
echo "\$ curl -s -o /dev/null -w '%{http_code}' ${URL}/v1/ask -d '{\"question\": \"hi\"}'   # no key: refused"
curl -s -o /dev/null -w '%{http_code}\n' "${URL}/v1/ask" -H 'content-type: application/json' -d '{"question": "hi"}' 

if [ "${DEMO_EXIT:-0}" = "1" ]; then exit 0; fi
echo
echo "== serving on ${URL}; try the requests above or ${URL}/docs. Ctrl-C to stop."
wait $SERVER
