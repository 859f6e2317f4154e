/* UNIX stream sockets for the gateway's input and stats. */
#ifndef WEIR_CLI_SOCK_H
#define WEIR_CLI_SOCK_H

#include <stddef.h>

/* Listens on @p path (a stale socket file left by a dead gateway is
 * replaced; one with a live listener is an error). Returns the fd or
 * -1 with a message printed. */
int weir__sock_listen(const char *path);
/* Connects to @p path; returns the fd or -1 with a message printed. */
int weir__sock_connect(const char *path);
/* Writes all of @p data (blocking); 0 or -1. */
int weir__sock_write_all(int fd, const void *data, size_t len);
/* Reads until EOF into a malloc'd NUL-terminated string (NULL on
 * error). */
char *weir__sock_read_all(int fd);

#endif
