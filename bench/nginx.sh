# bench/nginx.sh: the fast upstream, sourced by bench/run and bench/ab-latency (they provide `log`, `die`,
# `free_port` (bench/gateway.sh), `announced_port` (bench/run only, for the TLS front), `pids` and `hi`).
#
# nginx answers every POST to /v1/chat/completions with one fixed Chat Completions answer (the one
# fake-openai's `fake-echo` gives the benchmark's message), from memory, with no logging: an
# upstream that costs next to nothing, so that what the gateway adds cannot hide behind a slow
# fake. It listens on plain http and on https with a private CA made for the run; the gateway
# trusts that CA through SSL_CERT_FILE only. /sse/v1/chat/completions answers the same text as
# one fixed stream (Server-Sent Events, content-length framed).

NGINX_ANSWER='{"id":"chatcmpl-bench","object":"chat.completion","created":1765000000,"model":"fake-echo","choices":[{"index":0,"message":{"role":"assistant","content":"Echo: Hello from the benchmark, one two three four five"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":0}}}'

nginx_sse_answer() { # the same answer as a stream: role chunk, one delta per word, finish, usage, [DONE]
    local chunk='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1765000000,"model":"fake-echo","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
    local out word
    out="data: $(printf "$chunk" '{"role":"assistant","content":""}' null)\n\n"
    for word in "Echo: " "Hello " "from " "the " "benchmark, " "one " "two " "three " "four " "five"; do
        out+="data: $(printf "$chunk" "{\"content\":\"$word\"}" null)\n\n"
    done
    out+="data: $(printf "$chunk" '{}' '"stop"')\n\n"
    out+='data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1765000000,"model":"fake-echo","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}\n\n'
    out+='data: [DONE]\n\n'
    printf '%s' "$out"
}

ensure_nginx() { # installs nginx (with its stream module), wrk and openssl when missing (Debian)
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    [[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || missing+=(libnginx-mod-stream)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v openssl >/dev/null || missing+=(openssl)
    [[ ${#missing[@]} == 0 ]] && return 0
    log "installing ${missing[*]} (apt-get)"
    command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get to install them"
    # policy-rc.d-less hosts would start the packaged nginx service on :80: it is not used.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$OUT/apt.log" 2>&1 ||
        die "installing ${missing[*]} failed: see $OUT/apt.log"
}

make_ca() { # directory → ca.pem (the private CA), server.pem/server.key (127.0.0.1 and localhost)
    local dir=$1
    mkdir -p "$dir"
    (
        cd "$dir"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
            -days 2 -subj "/CN=codex-gateway bench CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
            -subj "/CN=127.0.0.1"
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
    ) >"$OUT/openssl.log" 2>&1 || die "making the private CA failed: see $OUT/openssl.log"
}

# start_nginx name directory body → sets started_pid (the master) and nginx_worker (its one worker).
# `body` is the configuration's http/stream blocks; the rest (one worker, no daemon, temp paths in
# the directory) is the same for every instance.
start_nginx() {
    local name=$1 dir=$2 body=$3
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
$body
EOF
    "${hi[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >>"$dir/error.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    for _ in $(seq 100); do
        kill -0 "$started_pid" 2>/dev/null || die "$name exited: see $dir/error.log"
        nginx_worker=$(pgrep -P "$started_pid" | head -1 || true)
        [[ -n $nginx_worker ]] && return 0
        sleep 0.05
    done
    die "$name started no worker: see $dir/error.log"
}

# start_nginx_upstream directory tls-dir → NGINX_HTTP_PORT, NGINX_HTTPS_PORT, NGINX_PID, NGINX_WORKER
start_nginx_upstream() {
    local dir=$1 tls=$2 temp
    NGINX_HTTP_PORT=$(free_port)
    NGINX_HTTPS_PORT=$(free_port)
    temp="client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;"
    start_nginx "nginx (upstream)" "$dir" "http {
    access_log off;
    $temp
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    ssl_certificate $tls/server.pem;
    ssl_certificate_key $tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:$NGINX_HTTP_PORT;
        listen 127.0.0.1:$NGINX_HTTPS_PORT ssl;
        location = /v1/chat/completions { default_type application/json; return 200 '$NGINX_ANSWER'; }
        location = /nginx_status { stub_status; }
        location = /sse/v1/chat/completions { default_type text/event-stream; return 200 '$(nginx_sse_answer)'; }
        location / { default_type application/json; return 404 '{\"error\":{\"message\":\"not found\",\"type\":\"invalid_request_error\"}}'; }
    }
}"
    NGINX_PID=$started_pid
    NGINX_WORKER=$nginx_worker
    local answer
    answer=$(curl -sS --cacert "$tls/ca.pem" -X POST -d '{}' "https://127.0.0.1:$NGINX_HTTPS_PORT/v1/chat/completions") ||
        die "nginx does not answer on https: see $dir/error.log"
    [[ $answer == "$NGINX_ANSWER" ]] || die "nginx answers $answer"
}

nginx_accepts() { # the connections nginx (the upstream) has accepted so far, less the one asking
    curl -sS "http://127.0.0.1:$NGINX_HTTP_PORT/nginx_status" | awk 'NR == 3 { print $1 - 1 }'
}

# start_tls_front directory tls-dir target-port → TLS_FRONT_PORT, TLS_FRONT_PID, TLS_FRONT_WORKER:
# nginx's stream module terminating TLS in front of a plain-TCP upstream, byte for byte (no HTTP,
# no buffering: each record goes on as it is decrypted).
start_tls_front() {
    local dir=$1 tls=$2 target=$3
    TLS_FRONT_PORT=$(free_port)
    start_nginx "nginx (TLS front)" "$dir" "stream {
    server {
        listen 127.0.0.1:$TLS_FRONT_PORT ssl;
        ssl_certificate $tls/server.pem;
        ssl_certificate_key $tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        proxy_pass 127.0.0.1:$target;
        proxy_timeout 300s;
    }
}"
    TLS_FRONT_PID=$started_pid
    TLS_FRONT_WORKER=$nginx_worker
}
