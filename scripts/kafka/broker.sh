# Apache Kafka for scripts/brokers.sh (sourced by it; uses its helpers):
# one JVM that is both the KRaft controller and the broker, started from
# the jars that scripts/kafka/pom.xml lists.

kafka_dir=$state/kafka
kafka_jars=$cache/kafka-$kafka_version
# Seconds SIGTERM gets before SIGKILL (a clean stop takes ~2.5 s).
kafka_grace=30
# What this checkout's broker has on its command line (broker_pid).
kafka_cmd="kafka.Kafka $kafka_dir/server.properties"

# Copies Kafka's jars into the cache unless they are there already. They
# land in a temporary folder first and are renamed into place, so an
# interrupted download is never taken for a complete one.
kafka_fetch() {
	local t0 tmp
	[[ -f $kafka_jars/.complete ]] && return 0
	need java mvn || return 1
	say "fetching Kafka $kafka_version's jars into $kafka_jars"
	t0=$(now)
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.kafka-$kafka_version.XXXXXX")
	if ! mvn -B -q -Dstyle.color=never -f "$root/scripts/kafka/pom.xml" \
	    dependency:copy-dependencies -DoutputDirectory="$tmp" \
	    -DincludeScope=runtime >&2; then
		rm -rf "$tmp"
		say "mvn could not fetch Kafka's jars"
		return 1
	fi
	touch "$tmp/.complete"
	# Another checkout may have won the race: keep its copy.
	mv -T "$tmp" "$kafka_jars" 2>/dev/null || rm -rf "$tmp"
	say "fetched $(ls "$kafka_jars" | wc -l) jars in $(since "$t0") s"
}

# A KRaft cluster id: 16 random bytes in base64url without padding. One
# that starts with '-' would be read as an option by StorageTool.
kafka_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		[[ $id == -* ]] || break
	done
	echo "$id"
}

# Writes server.properties for broker port $1 and controller port $2.
kafka_write_config() {
	cat >"$kafka_dir/server.properties" <<EOF
# Written by scripts/brokers.sh: one node, broker and controller.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$2
advertised.listeners=PLAINTEXT://127.0.0.1:$1
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$2
log.dirs=$kafka_dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.min.insync.replicas=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
}

# Formats a fresh data folder: every start begins with an empty cluster.
kafka_format() {
	rm -rf "$kafka_dir/data"
	java -cp "$kafka_jars/*" kafka.tools.StorageTool format \
	    -t "$(kafka_cluster_id)" -c "$kafka_dir/server.properties" \
	    --standalone >"$kafka_dir/format.log" 2>&1
}

# Waits until the broker on port $1 (pid $2) answers a metadata request.
# Returns 1 if it died, 2 if the deadline passed.
kafka_wait_ready() {
	local port=$1 pid=$2 t0
	t0=$(now)
	while awk -v t="$(since "$t0")" -v d="$deadline_s" 'BEGIN { exit !(t < d) }'; do
		launched_alive "$pid" || return 1
		# The PLAINTEXT port opens last in start-up: a cheap first test.
		if port_open "$port" &&
		    kcat -L -b "127.0.0.1:$port" -m 1 2>/dev/null |
		    grep -q ' 1 brokers:'; then
			return 0
		fi
		sleep 0.2
	done
	return 2
}

# One try at starting the broker on new ports. Returns 0 when it is
# ready, 1 when it died (3 when because a port was taken), 2 on timeout.
kafka_try_start() {
	local ports port cport pid rc=0 t0
	mapfile -t ports < <(free_ports 2)
	port=${ports[0]} cport=${ports[1]}
	kafka_write_config "$port" "$cport"
	t0=$(now)
	if ! kafka_format; then
		say "kafka: StorageTool format failed:"
		tail -n 20 "$kafka_dir/format.log" >&2
		return 1
	fi
	say "kafka: formatted in $(since "$t0") s"
	t0=$(now)
	java -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
	    -cp "$kafka_jars/*" kafka.Kafka "$kafka_dir/server.properties" \
	    </dev/null >"$kafka_dir/log" 2>&1 &
	pid=$!
	echo "$pid" >"$kafka_dir/pid"
	echo "127.0.0.1:$port" >"$kafka_dir/address"
	kafka_wait_ready "$port" "$pid" || rc=$?
	if ((rc == 0)); then
		say "kafka ready on 127.0.0.1:$port (pid $pid) $(since "$t0") s" \
		    "after the JVM started, RSS $(rss_mib "$pid") MiB"
	elif ((rc == 1)) && grep -q 'Address already in use' "$kafka_dir/log"; then
		rc=3
	fi
	return "$rc"
}

kafka_start() {
	local pid try rc
	if pid=$(broker_pid kafka "$kafka_cmd"); then
		say "kafka already running (pid $pid)"
		cat "$kafka_dir/address"
		return 0
	fi
	mkdir -p "$kafka_dir"
	rm -f "$kafka_dir/pid" "$kafka_dir/address" "$kafka_dir/log"
	need java kcat python3 || {
		start_failed kafka "a program it needs is missing"
		return
	}
	kafka_fetch || {
		start_failed kafka "its jars could not be fetched"
		return
	}
	for try in 1 2 3; do
		rc=0
		kafka_try_start || rc=$?
		((rc == 3)) || break
		say "kafka: a port was taken before the broker bound it; new ports"
	done
	case $rc in
	0) cat "$kafka_dir/address" ;;
	2)
		kafka_stop
		start_failed kafka "not ready within ${deadline_s} s" "$kafka_dir/log"
		;;
	*) start_failed kafka "the broker exited" "$kafka_dir/log" ;;
	esac
}

kafka_stop() {
	local pid
	if pid=$(broker_pid kafka "$kafka_cmd"); then
		stop_pid kafka "$pid" "$kafka_grace" "$kafka_cmd"
	fi
	rm -f "$kafka_dir/pid"
}

kafka_status() {
	local pid
	if pid=$(broker_pid kafka "$kafka_cmd"); then
		echo "kafka: running, pid $pid, $(<"$kafka_dir/address"), RSS $(rss_mib "$pid") MiB"
	else
		echo "kafka: not running"
		return 1
	fi
}

# Produces a few keyed records (idempotently, with a header) to a new
# topic and reads them back.
kafka_selftest() {
	local addr topic sent got n=5 i
	need kcat timeout || return 1
	broker_pid kafka "$kafka_cmd" >/dev/null || {
		say "kafka selftest: kafka is not running"
		return 1
	}
	addr=$(<"$kafka_dir/address")
	topic=weir-selftest-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
	sent=$(for ((i = 1; i <= n; i++)); do echo "key-$i:value-$i"; done)
	kcat -P -b "$addr" -t "$topic" -K: -H weir-id=selftest \
	    -X enable.idempotence=true <<<"$sent" || {
		say "kafka selftest: kcat could not produce to $topic"
		return 1
	}
	got=$(timeout 60 kcat -C -b "$addr" -t "$topic" -o beginning -c "$n" \
	    -e -f '%k:%s %h\n') || true
	if [[ $got != "$(sed 's/$/ weir-id=selftest/' <<<"$sent")" ]]; then
		say "kafka selftest: read back from $topic:"
		echo "$got" >&2
		return 1
	fi
	say "kafka selftest: $n records with a header produced and read back ($topic)"
}
