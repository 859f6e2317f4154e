/*
 * A libuv program using weir: the bus's default loop is driven by
 * libuv (include/weir/adapters/libuv.h). A worker thread publishes
 * sensor readings; a debounced subscription prints each sensor's last
 * reading once it has been quiet for 50 ms; a libuv timer ends the run.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <weir/adapters/libuv.h>
#include <weir/weir.h>

static weir_err
on_reading(weir_bus *bus, const weir_event *ev, void *arg)
{
	size_t      klen, plen;
	const char *key = weir_event_key(ev, &klen);
	const char *val = weir_event_payload(ev, &plen);
	(void) bus;
	(void) arg;
	printf("%.*s settled at %.*s\n", (int) klen, key, (int) plen, val);
	return WEIR_OK;
}

static void *
sensor_thread(void *arg)
{
	weir_bus *bus = arg;
	for (int i = 0; i < 1000; i++) {
		char key[16], val[16];
		int  kl = snprintf(key, sizeof(key), "sensor-%d", i % 3);
		int  vl = snprintf(val, sizeof(val), "%d", i);
		weir_event_init init = { .size = sizeof(weir_event_init),
			.topic                 = "sensors.temp",
			.key                   = key,
			.key_len               = (size_t) kl,
			.payload               = val,
			.payload_len           = (size_t) vl };
		weir_event     *ev;
		if (weir_event_new(&ev, &init) == WEIR_OK) {
			weir_publish_event(bus, ev); /* any thread */
			weir_event_release(ev);
		}
	}
	return NULL;
}

static void
on_done(uv_timer_t *t)
{
	uv_stop(t->loop);
}

int
main(void)
{
	weir_bus           *bus;
	weir_subscr_config *sc;
	weir_subscr        *sub;
	weir_libuv         *glue;
	uv_timer_t          done;
	pthread_t           th;
	if (weir_bus_create(&bus, NULL) != WEIR_OK ||
	    weir_subscr_config_create(&sc) != WEIR_OK) {
		return 1;
	}
	weir_subscr_config_set_debounce(sc, 50);
	weir_subscribe(&sub, bus, "sensors.>", on_reading, NULL, NULL, sc);
	weir_subscr_config_destroy(sc);
	weir_err rv =
	    weir_libuv_attach(&glue, uv_default_loop(), weir_bus_loop(bus));
	if (rv != WEIR_OK) {
		fprintf(stderr, "attach: %s\n", weir_strerror(rv));
		return 1;
	}
	uv_timer_init(uv_default_loop(), &done);
	uv_timer_start(&done, on_done, 500, 0);
	pthread_create(&th, NULL, sensor_thread, bus);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* weir handlers run here */
	pthread_join(th, NULL);
	weir_libuv_detach(glue);
	uv_close((uv_handle_t *) &done, NULL);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	uv_loop_close(uv_default_loop());
	weir_bus_destroy(bus);
	return 0;
}
