/*
 * Helpers shared by the NATS tests (nats_test, nats_source_test,
 * nats_in_test, nats_fault_test), over broker_env.h: skip-or-fail when
 * no nats-server answers, a plain cnats connection and stream, sending
 * with it, and the check that an error text names its cause.
 *
 * The broker: WEIR_NATS_URL from the environment, else from
 * build/brokers/env (scripts/brokers.sh start nats). None: skipped, or a
 * failure with CI=true.
 *
 * Tests that compile src/bridge/nats.c themselves, without the bridge,
 * define NATS_FIXTURE_CONFIG before including this header: it then also
 * gives a stand-in for the bridge's config (weir_bridge_config_get /
 * _each, cfg_set).
 */
#ifndef WEIR_NATS_FIXTURE_H
#define WEIR_NATS_FIXTURE_H

#include "broker_env.h"

#include <string.h>

#include <nats/nats.h>

#include <weir/backend.h>

static char nats_url[512];

/* WEIR_NATS_URL (environment, else build/brokers/env: broker_env.h). */
static inline int
broker_url(void)
{
	return bk_env("WEIR_NATS_URL", nats_url, sizeof nats_url) != NULL;
}

/* 1 if a nats-server answers at nats_url (set from broker_url). */
static inline int
broker_up(void)
{
	natsConnection *nc = NULL;
	natsOptions    *o  = NULL;
	int             up;
	if (!broker_url()) {
		return 0;
	}
	natsOptions_Create(&o);
	natsOptions_SetURL(o, nats_url);
	natsOptions_SetMaxReconnect(o, 0);
	up = natsConnection_Connect(&nc, o) == NATS_OK;
	natsConnection_Destroy(nc);
	natsOptions_Destroy(o);
	return up;
}

/* Skips (or fails in CI) when no broker answers. */
#define NEED_BROKER()                                                       \
	do {                                                                \
		if (!broker_up()) {                                         \
			if (bk_in_ci()) {                                   \
				fail_msg("CI=true and no nats-server: "     \
				         "scripts/brokers.sh start nats");  \
			}                                                   \
			print_message("no nats-server (scripts/brokers.sh " \
			              "start nats): skipped\n");            \
			skip();                                             \
		}                                                           \
	} while (0)

/* A plain cnats connection (and JetStream context if js is not NULL). */
static inline natsConnection *
plain_connect(jsCtx **js)
{
	natsConnection *nc = NULL;
	assert_int_equal(natsConnection_ConnectTo(&nc, nats_url), NATS_OK);
	if (js != NULL) {
		assert_int_equal(
		    natsConnection_JetStream(js, nc, NULL), NATS_OK);
	}
	return nc;
}

/* Creates stream @p name over @p subjects (file storage). */
static inline void
plain_stream(jsCtx *js, const char *name, const char *subjects)
{
	jsStreamConfig sc;
	jsStreamInfo  *si   = NULL;
	const char    *subj = subjects;
	jsStreamConfig_Init(&sc);
	sc.Name        = name;
	sc.Subjects    = &subj;
	sc.SubjectsLen = 1;
	sc.Storage     = js_FileStorage;
	assert_int_equal(js_AddStream(&si, js, &sc, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(si);
}

/* Names the source fixture @p x (its char arrays stream, subj, from and
 * route) uniquely, from the prefixes @p sp (stream) and @p jp (subjects),
 * and sets its spec over them, fetching @p n at a time. */
#define SRC_FIXTURE_NAME(x, sp, jp, n)                                   \
	do {                                                             \
		bk_unique((x)->stream, sizeof(x)->stream, sp);           \
		bk_unique((x)->subj, sizeof(x)->subj, jp);               \
		bk_unique((x)->route, sizeof(x)->route, "in.r");         \
		snprintf((x)->from, sizeof(x)->from, "%s.>", (x)->subj); \
		memset(&(x)->spec, 0, sizeof(x)->spec);                  \
		(x)->spec.size  = sizeof(x)->spec;                       \
		(x)->spec.route = (x)->route;                            \
		(x)->spec.from  = (x)->from;                             \
		(x)->spec.batch = (n);                                   \
	} while (0)

/* Fails the test unless the error text @p msg names @p needle. */
static inline void
errmsg_has(const char *msg, const char *needle)
{
	assert_non_null(msg);
	if (strstr(msg, needle) == NULL) {
		fail_msg("errmsg '%s' lacks '%s'", msg, needle);
	}
}

/* Sends @p m (then destroys it) through JetStream if @p use_js, else
 * as a core NATS message. */
static inline void
plain_send(natsConnection *nc, jsCtx *js, natsMsg *m, int use_js)
{
	if (use_js) {
		assert_int_equal(js_PublishMsgAsync(js, &m, NULL), NATS_OK);
	} else {
		assert_int_equal(natsConnection_PublishMsg(nc, m), NATS_OK);
	}
	natsMsg_Destroy(m);
}

/* Waits until what plain_send sent is through: every PubAck, or a
 * flush. */
static inline void
plain_sent(natsConnection *nc, jsCtx *js, int use_js)
{
	if (use_js) {
		assert_int_equal(js_PublishAsyncComplete(js, NULL), NATS_OK);
	} else {
		assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	}
}

#ifdef NATS_FIXTURE_CONFIG
/* The bridge's config, as a stand-in: pointers to the caller's strings. */
struct weir_bridge_config {
	const char *key[32];
	const char *value[32];
	size_t      n;
};

const char *
weir_bridge_config_get(const weir_bridge_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->key[i], key) == 0) {
			return cfg->value[i];
		}
	}
	return NULL;
}

weir_err
weir_bridge_config_each(const weir_bridge_config *cfg, const char *prefix,
    weir_err (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		if (strncmp(cfg->key[i], prefix, strlen(prefix)) == 0) {
			weir_err rv = fn(cfg->key[i], cfg->value[i], arg);
			if (rv != WEIR_OK) {
				return rv;
			}
		}
	}
	return WEIR_OK;
}

static inline void
cfg_set(weir_bridge_config *cfg, const char *key, const char *value)
{
	cfg->key[cfg->n]   = key;
	cfg->value[cfg->n] = value;
	cfg->n++;
}
#endif /* NATS_FIXTURE_CONFIG */

#endif /* WEIR_NATS_FIXTURE_H */
