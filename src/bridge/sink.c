/* weir_sink_ack: skeleton; the relay's version replaces it. */
#include <weir/backend.h>

void
weir_sink_ack(weir_sink *sink, uint64_t token, weir_err result, int retriable,
    const char *reason)
{
	(void) sink;
	(void) token;
	(void) result;
	(void) retriable;
	(void) reason;
}
