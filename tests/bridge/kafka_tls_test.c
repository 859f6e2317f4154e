/*
 * Kafka's TLS options pass through to librdkafka (docs/bridge.md): a
 * CA file that does not exist is an error that names the option, not a
 * silent plaintext producer. librdkafka reads the file when the
 * producer is made, so the error comes from weir_bridge_start (register
 * only checks that the property exists and its value parses). No broker
 * is needed: the check happens before any connection.
 */
#include <weir/kafka.h>

#include "fixture.h"

/* Registers the kafka backend with @p kv and starts one route; returns
 * the first error, its text in @p msg. */
static weir_err
ktls_try(const char *const *kv, char *msg, size_t cap)
{
	bt       t;
	weir_err e;
	bt_open(&t, kv);
	e = weir_bridge_register(t.br, weir_backend_kafka());
	if (e == WEIR_OK &&
	    (e = weir_bridge_route_add(
	         t.br, "r", "a.>", "kafka", "t", "key", NULL)) == WEIR_OK)
		e = weir_bridge_start(t.br);
	snprintf(msg, cap, "%s", weir_bridge_errmsg(t.br));
	print_message("%s: %s\n", weir_err_name(e), msg);
	bt_close(&t);
	return e;
}

static void
test_missing_ca_location_names_option(void **state)
{
	(void) state;
	char        msg[512];
	const char *kv[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.security.protocol", "ssl", "kafka.ssl.ca.location",
		"/nonexistent/weir-ca.pem", NULL };
	assert_int_equal(ktls_try(kv, msg, sizeof msg), WEIR_EINVAL);
	assert_non_null(strstr(msg, "ssl.ca.location"));
}

static void
test_bad_security_protocol_names_option(void **state)
{
	(void) state;
	char        msg[512];
	const char *kv[] = { "kafka.bootstrap.servers", "127.0.0.1:1",
		"kafka.security.protocol", "tls-please", NULL };
	assert_int_equal(ktls_try(kv, msg, sizeof msg), WEIR_EINVAL);
	assert_non_null(strstr(msg, "kafka.security.protocol"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_ca_location_names_option),
		cmocka_unit_test(test_bad_security_protocol_names_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
