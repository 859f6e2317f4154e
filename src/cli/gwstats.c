// The gateway's counters and its stats JSON: the gateway's own figures
// (lines, accepted, rejected, per-topic counts) beside the bus's stats
// (weir_bus_stats_json, which carries the bridge's routes).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "cli/jtext.h"
#include "cli/opts.h"
#include "cli/sock.h"

/* Topics counted one by one; past this many, the rest share one slot. */
#define GW_MAX_TOPICS 4096

static gw_topic *
gw_topic_find(gateway *gw, const char *topic)
{
	for (size_t i = 0; i < gw->ntopics; i++)
		if (strcmp(gw->topics[i].name, topic) == 0)
			return &gw->topics[i];
	return NULL;
}

/* Past GW_MAX_TOPICS, every new topic counts in the one "(other)" slot
 * (the check used to hold only once: each later topic got a slot). */
void
weir__gw_count_topic(gateway *gw, const char *topic)
{
	gw_topic *t = gw_topic_find(gw, topic);
	if (t == NULL && gw->ntopics >= GW_MAX_TOPICS) {
		topic = "(other)";
		t     = gw_topic_find(gw, topic);
	}
	if (t != NULL) {
		t->count++;
		return;
	}
	t = realloc(gw->topics, (gw->ntopics + 1) * sizeof *t);
	if (t == NULL)
		return;
	gw->topics           = t;
	t[gw->ntopics].name  = strdup(topic);
	t[gw->ntopics].count = 1;
	gw->ntopics += t[gw->ntopics].name != NULL;
}

void
weir__gw_topics_free(gateway *gw)
{
	for (size_t i = 0; i < gw->ntopics; i++)
		free(gw->topics[i].name);
	free(gw->topics);
	gw->topics  = NULL;
	gw->ntopics = 0;
}

/* NULL when any part cannot be made: figures with a topic missing
 * would be wrong, not partial. */
static json_t *
gw_own_json(gateway *gw)
{
	json_t *topics = json_object();
	for (size_t i = 0; topics != NULL && i < gw->ntopics; i++)
		if (json_object_set_new(topics, gw->topics[i].name,
		        json_integer((json_int_t) gw->topics[i].count)) != 0) {
			json_decref(topics);
			return NULL;
		}
	if (topics == NULL)
		return NULL;
	double up = (double) (weir__opts_now_ns() - gw->started_ns) / 1e9;
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:o}", "lines",
	    (json_int_t) gw->lines, "accepted", (json_int_t) gw->accepted,
	    "rejected", (json_int_t) gw->rejected, "failed",
	    (json_int_t) gw->failed, "clients", (json_int_t) (gw->nconns),
	    "uptime_s", up, "topics", topics);
}

char *
weir__gw_stats_json(gateway *gw)
{
	char   *bus_text = weir_bus_stats_json(gw->bus);
	json_t *bus      = bus_text ? json_loads(bus_text, 0, NULL) : NULL;
	weir_free(bus_text);
	json_t *o = json_pack("{s:o,s:o}", "gateway", gw_own_json(gw), "bus",
	    bus != NULL ? bus : json_null());
	char   *text = weir__jtext(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Answers every waiting stats client with the JSON and a newline. */
void
weir__gw_stats_serve(gateway *gw)
{
	int fd;
	while ((fd = accept4(gw->sfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		char *text = weir__gw_stats_json(gw);
		if (text != NULL) {
			weir__sock_write_all(fd, text, strlen(text));
			weir__sock_write_all(fd, "\n", 1);
		}
		free(text);
		close(fd);
	}
}
