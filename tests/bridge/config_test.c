/* weir_bridge_config: keys, pass-through, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <weir/bridge.h>

static weir_err
count_fn(const char *key, const char *value, void *arg)
{
	(void) key;
	(void) value;
	(*(int *) arg)++;
	return WEIR_OK;
}

static void
test_keys(void **state)
{
	(void) state;
	weir_bridge_config *cfg;
	assert_int_equal(weir_bridge_config_create(&cfg), WEIR_OK);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafka.acks", "all"), WEIR_OK);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafka.linger.ms", "5"), WEIR_OK);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "nats.url", "nats://x"), WEIR_OK);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "bridge.window", "8"), WEIR_OK);
	/* unknown families and unknown bridge keys fail at once */
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafak.acks", "1"), WEIR_EINVAL);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "bridge.windw", "1"), WEIR_EINVAL);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafka.", "1"), WEIR_EINVAL);
	assert_string_equal(weir_bridge_config_get(cfg, "kafka.acks"), "all");
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafka.acks", "1"), WEIR_OK);
	assert_string_equal(weir_bridge_config_get(cfg, "kafka.acks"), "1");
	assert_null(weir_bridge_config_get(cfg, "kafka.nope"));
	int n = 0;
	assert_int_equal(
	    weir_bridge_config_each(cfg, "kafka.", count_fn, &n), WEIR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(
	    weir_bridge_config_set_str(cfg, "kafka.acks", NULL), WEIR_OK);
	assert_null(weir_bridge_config_get(cfg, "kafka.acks"));
	n = 0;
	weir_bridge_config_each(cfg, "kafka.", count_fn, &n);
	assert_int_equal(n, 1);
	weir_bridge_config_destroy(cfg);
	weir_bridge_config_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_keys) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
