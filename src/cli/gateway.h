/*
 * The gateway's state, shared by gateway.c (options, set-up, the poll
 * loop, the drain), gwio.c (connections, lines, batches, acks) and
 * gwstats.c (counters and the stats JSON).
 */
#ifndef WEIR_CLI_GATEWAY_H
#define WEIR_CLI_GATEWAY_H

#include <stdint.h>

#include <weir/bridge.h>
#include <weir/store.h>

#include "cli/config.h"

#define GW_BATCH 512
#define GW_MAX_CONNS 256
#define GW_MAX_LINE (16u * 1024u * 1024u)

/* One input: stdin, or a client of the socket. */
typedef struct gw_conn {
	int      fd;
	int      out_fd; /* where acks go */
	int      id;     /* 0 for stdin, else the client's number */
	char    *buf;
	size_t   len, cap;
	uint64_t line;     /* lines seen so far */
	int      skipping; /* inside a line that is too long */
	int      eof;
} gw_conn;

/* A parsed line waiting for its commit. */
typedef struct gw_item {
	gw_conn    *conn;
	uint64_t    line;
	weir_event *ev;
	char       *stream;
	weir_err    err;
	uint64_t    seq;
} gw_item;

typedef struct gw_topic {
	char    *name;
	uint64_t count;
} gw_topic;

typedef struct gateway {
	/* options */
	const char *config_file, *store_path, *socket_path, *stats_path;
	int         ack, on_error_stop;
	double      drain_s;
	/* wiring */
	cli_config   cfg;
	weir_bus    *bus;
	weir_store  *st;
	weir_bridge *br;
	int          lfd, sfd, sigfd;
	/* inputs */
	gw_conn *conns[GW_MAX_CONNS];
	size_t   nconns;
	int      next_id;
	gw_item  batch[GW_BATCH];
	size_t   nbatch;
	/* counters */
	gw_topic *topics;
	size_t    ntopics;
	uint64_t  lines, accepted, rejected, failed;
	int64_t   started_ns;
	int       stop;        /* stop reading: signal, EOF or --on-error */
	int       input_error; /* a line was refused */
	int       store_error; /* an append failed */
	int       read_error;  /* an input could not be read to its end */
	int       ack_error;   /* an ack could not be written to stdout */
} gateway;

/* gwio.c */
gw_conn *weir__gw_conn_new(gateway *gw, int fd, int out_fd);
void     weir__gw_conn_free(gw_conn *c);
/* Reads what is there; returns 0, or -1 when the input ended. */
int  weir__gw_conn_read(gateway *gw, gw_conn *c);
void weir__gw_commit(gateway *gw);

/* gwstats.c */
void  weir__gw_count_topic(gateway *gw, const char *topic);
char *weir__gw_stats_json(gateway *gw);
void  weir__gw_stats_serve(gateway *gw);
void  weir__gw_topics_free(gateway *gw);

#endif
