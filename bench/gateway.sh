# bench/gateway.sh: starting gateways for a measurement, sourced by bench/run and bench/ab-latency
# (they provide `die`, `pids`, `hi`, `WORK`, `OUT`, and `BIN` or a binary for each gateway).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

write_home() { # directory [provider base_url] [wire_api] → its config.toml (default: fake-openai on $FAKE_PORT)
    mkdir -p "$1"
    cat >"$1/config.toml" <<CONFIG
model = "fake-echo"
model_provider = "fake"

[model_providers.fake]
name = "Fake"
base_url = "${2:-http://127.0.0.1:${FAKE_PORT:-}/v1}"
env_key = "FAKE_OPENAI_KEY"
wire_api = "${3:-chat}"
CONFIG
}

# gateway_environment CODEX_HOME CA → exports what every gateway of the run shares: a fresh
# GATEWAY_API_KEY (also in API_KEY), the provider's key, the CA that the https upstreams' certificates
# are checked against (SSL_CERT_FILE only), the rate limits off and the warning log level (request
# logs would cost CPU on every request).
gateway_environment() {
    API_KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export CODEX_HOME=$1 HOST=127.0.0.1 GATEWAY_API_KEY=$API_KEY FAKE_OPENAI_KEY=sk-fake-bench LOG_LEVEL=warning
    export SSL_CERT_FILE=$2
    export RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_PER_HOUR=0 RATE_LIMIT_PER_DAY=0 RATE_LIMIT_CONCURRENT_TURNS=0
    unset RUST_LOG LOG_FORMAT
}

start_gateway() { # port [CODEX_HOME] [binary] [VAR=value...] → sets started_pid; waits for /health
    local home=${2:-$WORK/home} binary=${3:-$BIN/codex-gateway}
    (cd "$home" && exec "${hi[@]}" env PORT="$1" CODEX_HOME="$home" "${@:4}" "$binary") >>"$OUT/gateway.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    for _ in $(seq 200); do
        kill -0 "$started_pid" 2>/dev/null || die "the gateway exited: see $OUT/gateway.log"
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health") == 200 ]] && return 0
        sleep 0.05
    done
    die "the gateway did not answer /health"
}
