// Events to and from rows: the header encoding and row decoding.
#ifndef WEIR_STORE_CODEC_H
#define WEIR_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <weir/weir.h>

// The columns every event query selects, in this order.
#define WEIR__EVENT_COLS "seq,id,ts,topic,key,headers,payload,stream,version"

// WEIR_OK if the row format holds @p ev and it decodes again: header
// count, name and value lengths and the key within weir.h's limits (an
// event made past weir_event_new's checks is refused here); else
// WEIR_EINVAL.
weir_err weir__codec_check(const weir_event *ev);
// Bytes needed to encode the headers of @p ev (0 without headers).
size_t weir__codec_headers_size(const weir_event *ev);
// Encodes the headers of @p ev into @p buf (weir__codec_headers_size
// bytes). Per header: u16 name length (with its NUL), the name and NUL,
// u32 value length, the value; little-endian.
void weir__codec_headers_encode(const weir_event *ev, uint8_t *buf);
// Bytes an event occupies in the log, for the size limit; SIZE_MAX if
// the sum does not fit a size_t.
size_t weir__codec_event_size(const weir_event *ev, size_t headers_size);
// Builds an event with @p seq from columns @p col.. of @p stmt (in
// WEIR__EVENT_COLS order from `id` to `payload`). WEIR_ECORRUPT for a
// malformed row: a column of a type the store never writes (id a
// 16-byte blob, ts an integer, topic text, key, headers and payload
// blobs or NULL), a malformed header blob, or an invalid topic.
weir_err weir__codec_row_event(
    sqlite3_stmt *stmt, int col, uint64_t seq, weir_event **out);

// The stream and version of an event row (columns @p col, @p col + 1):
// both set (text, integer) or both NULL; WEIR_ECORRUPT otherwise.
weir_err weir__codec_row_stream(
    sqlite3_stmt *stmt, int col, const char **stream, int64_t *version);

#endif
