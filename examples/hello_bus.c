// hello_bus: the smallest weir program. A listener hears a synchronous
// emit; a subscription receives queued events on the bus's loop.
#include <stdio.h>

#include <weir/weir.h>

static weir_err
on_greeting(weir_bus *bus, const weir_event *ev, void *arg)
{
	size_t      len;
	const char *text = weir_event_payload(ev, &len);
	(void) bus;
	(void) arg;
	printf("emit    %s: %.*s\n", weir_event_topic(ev), (int) len, text);
	return WEIR_OK;
}

static weir_err
on_order(weir_bus *bus, const weir_event *ev, void *arg)
{
	int        *seen = arg;
	size_t      len;
	const char *text = weir_event_payload(ev, &len);
	printf("publish %s: %.*s\n", weir_event_topic(ev), (int) len, text);
	if (++*seen == 3) {
		weir_bus_stop(bus);
	}
	return WEIR_OK;
}

int
main(void)
{
	weir_bus    *bus;
	weir_subscr *sub;
	int          seen = 0;
	weir_err     rv   = weir_bus_create(&bus, NULL);
	if (rv != WEIR_OK) {
		fprintf(stderr, "bus: %s\n", weir_strerror(rv));
		return 1;
	}
	weir_on(bus, "greetings.*", on_greeting, NULL, NULL, 0, NULL);
	weir_emit(bus, "greetings.world", "hello", 5, NULL);
	weir_subscribe(&sub, bus, "orders.>", on_order, &seen, NULL, NULL);
	weir_publish(bus, "orders.eu.created", "#1", 2, 0, NULL);
	weir_publish(bus, "orders.us.created", "#2", 2, 0, NULL);
	weir_publish(bus, "orders.eu.paid", "#1 paid", 7, 0, NULL);
	weir_bus_run(bus, WEIR_RUN_DEFAULT);
	weir_bus_destroy(bus);
	return seen == 3 ? 0 : 1;
}
