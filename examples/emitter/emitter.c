// emitter.c: emitter.js ported to weir, step for step. The listeners
// are weir_on() listeners and every emit is weir_emit(): synchronous,
// on the caller's thread, in registration order, as in Node. Both
// programs print the same lines (compare.sh checks it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/weir.h>

// Payloads are bytes, not strings: copy one into a NUL-terminated buffer.
static const char *
text(const weir_event *ev, char *buf, size_t size)
{
	size_t      len;
	const char *p = weir_event_payload(ev, &len);
	if (len >= size) {
		len = size - 1;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

// One listener per line that the Node version prints.
static weir_err
stock(weir_bus *bus, const weir_event *ev, void *arg)
{
	char b[64];
	(void) bus, (void) arg;
	printf("stock: reserved for %s\n", text(ev, b, sizeof(b)));
	return WEIR_OK;
}

static weir_err
mail(weir_bus *bus, const weir_event *ev, void *arg)
{
	char b[64];
	(void) bus, (void) arg;
	printf("mail: order %s confirmed\n", text(ev, b, sizeof(b)));
	return WEIR_OK;
}

static weir_err
audit(weir_bus *bus, const weir_event *ev, void *arg)
{
	char b[64];
	(void) bus, (void) arg;
	printf("audit: %s logged\n", text(ev, b, sizeof(b)));
	return WEIR_OK;
}

static weir_err
welcome(weir_bus *bus, const weir_event *ev, void *arg)
{
	char b[64];
	(void) bus, (void) arg;
	printf("welcome: %s is the first order\n", text(ev, b, sizeof(b)));
	return WEIR_OK;
}

// shop.off('order.created', mail), from inside an emit.
static weir_err
drop_mail(weir_bus *bus, const weir_event *ev, void *arg)
{
	(void) ev, (void) arg;
	weir_off_fn(bus, "order.created", mail, NULL);
	printf("cleanup: mail removed\n");
	return WEIR_OK;
}

// Node's listener calls emit('error'); a weir listener returns its
// error instead, and the bus turns it into an event on $weir.error, or,
// with nobody listening there, ends the emit with it (Node's throw).
static weir_err
pay(weir_bus *bus, const weir_event *ev, void *arg)
{
	char b[64];
	(void) bus, (void) arg;
	if (strtol(text(ev, b, sizeof(b)), NULL, 10) <= 0) {
		return WEIR_EINVAL;
	}
	printf("pay: %s taken\n", b);
	return WEIR_OK;
}

// The error event carries the failed topic and code as headers and the
// failed event itself as its cause.
static weir_err
on_error(weir_bus *bus, const weir_event *ev, void *arg)
{
	char        b[64], topic[64], code[16];
	size_t      tl, cl;
	const char *t = weir_event_header_get(ev, "weir-topic", &tl);
	const char *c = weir_event_header_get(ev, "weir-code", &cl);
	(void) bus, (void) arg;
	snprintf(topic, sizeof(topic), "%.*s", (int) tl, t);
	snprintf(code, sizeof(code), "%.*s", (int) cl, c);
	printf("error: %s %s: %s\n", topic,
	    text(weir_event_cause(ev), b, sizeof(b)),
	    weir_strerror((weir_err) atoi(code)));
	return WEIR_OK;
}

// weir_emit tells how many listeners it called (Node's true / false)
// and returns the error that ended it (Node's throw).
static void
emit_show(weir_bus *bus, const char *topic, const char *arg)
{
	size_t   called;
	weir_err rv = weir_emit(bus, topic, arg, strlen(arg), &called);
	if (rv != WEIR_OK) {
		printf(
		    "emit %s %s threw: %s\n", topic, arg, weir_strerror(rv));
	} else {
		printf("emit %s %s -> %s\n", topic, arg,
		    called > 0 ? "true" : "false");
	}
}

static void
count(weir_bus *bus, const char *topic)
{
	printf(
	    "listeners of %s: %zu\n", topic, weir_listener_count(bus, topic));
}

// on, prepend, once: the order of calls.
static void
order_of_calls(weir_bus *bus)
{
	weir_on(bus, "order.created", mail, NULL, NULL, 0, NULL);
	weir_on(bus, "order.created", audit, NULL, NULL, 0, NULL);
	weir_on(
	    bus, "order.created", stock, NULL, NULL, WEIR_ON_PREPEND, NULL);
	weir_on(bus, "order.created", welcome, NULL, NULL, WEIR_ON_ONCE, NULL);
	count(bus, "order.created");
	emit_show(bus, "order.created", "A-1");
	count(bus, "order.created");
}

// off; and a listener removed during an emit is still called by that
// emit (its list was snapshotted when it began), not by the next.
static void
removal(weir_bus *bus)
{
	weir_off_fn(bus, "order.created", audit, NULL);
	emit_show(bus, "order.created", "A-2");
	weir_on(bus, "order.created", drop_mail, NULL, NULL,
	    WEIR_ON_PREPEND | WEIR_ON_ONCE, NULL);
	emit_show(bus, "order.created", "A-3");
	emit_show(bus, "order.created", "A-4");
	count(bus, "order.created");
	emit_show(bus, "order.cancelled", "A-4");
}

// The error event.
static void
errors(weir_bus *bus)
{
	weir_on(bus, "order.paid", pay, NULL, NULL, 0, NULL);
	emit_show(bus, "order.paid", "25");
	emit_show(bus, "order.paid", "-5");
	weir_on(bus, WEIR_TOPIC_ERROR, on_error, NULL, NULL, 0, NULL);
	emit_show(bus, "order.paid", "-5");
	count(bus, "order.paid");
}

int
main(void)
{
	weir_bus *shop;
	weir_err  rv = weir_bus_create(&shop, NULL);
	if (rv != WEIR_OK) {
		fprintf(stderr, "emitter: %s\n", weir_strerror(rv));
		return 1;
	}
	order_of_calls(shop);
	removal(shop);
	errors(shop);
	weir_bus_destroy(shop);
	return 0;
}
