// The synchronous emit, and the error path shared with dispatch.
#ifndef WEIR_CORE_EMIT_H
#define WEIR_CORE_EMIT_H

#include <weir/weir.h>

// Reports a handler's failure on WEIR_TOPIC_ERROR, to listeners (at
// once) and subscriptions (queued). Returns WEIR_OK when somebody
// listens, else @p err. @p origin names the failing subscription or is
// NULL for an emit.
weir_err weir__report_error(
    weir_bus *bus, const weir_event *ev, weir_err err, const char *origin);

#endif
