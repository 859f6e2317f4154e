// Pull subscriptions: subscriptions without a handler, never scheduled
// on a loop; callers take their events with weir_subscr_next().
#ifndef WEIR_CORE_PULL_H
#define WEIR_CORE_PULL_H

#include <weir/weir.h>

typedef struct weir__pull weir__pull;

weir_err weir__pull_create(weir__pull **out);
void     weir__pull_destroy(weir__pull *p);
// Refuses settings that only pace or place handler calls (WEIR_EINVAL).
weir_err weir__pull_check(const weir_subscr_config *sc);
// After an event entered the queue: wakes one waiting caller, if any.
void weir__pull_wake(weir_subscr *sub);
// After the subscription was marked closed: wakes every waiting caller.
void weir__pull_close(weir_subscr *sub);
// Callers waiting in weir_subscr_next() now (for tests).
int weir__pull_waiters(weir_subscr *sub);

#endif
