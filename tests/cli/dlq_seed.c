// Test helper for tests/cli/dlq_test.sh: turns the events of a store
// into dead letters of one origin, as a failing route would, so that the
// dlq subcommand can be tested without a broker that refuses messages.
//   dlq_seed STORE ORIGIN
#include <stdio.h>

#include <weir/store.h>

static weir_err
seed_one(weir_store *st, const weir_event *ev, const char *stream,
    int64_t version, void *arg)
{
	(void) stream;
	(void) version;
	return weir_store_dead_add(st, ev, arg, WEIR_EBACKEND,
	    "Broker: Message size too large (seeded)", NULL);
}

int
main(int argc, char **argv)
{
	weir_store *st;
	char        why[256];
	if (argc != 3) {
		fprintf(stderr, "usage: dlq_seed STORE ORIGIN\n");
		return 2;
	}
	if (weir_store_open(&st, argv[1], NULL, why, sizeof why) != WEIR_OK) {
		fprintf(stderr, "dlq_seed: %s\n", why);
		return 1;
	}
	weir_err e = weir_store_read_all(st, 1, 0, seed_one, argv[2]);
	weir_store_destroy(st);
	return e == WEIR_OK ? 0 : 1;
}
