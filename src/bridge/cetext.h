/*
 * CloudEvents attribute text for the backends' producer paths, without
 * printf or strftime: ce_time (RFC 3339, UTC, nanoseconds) and decimal
 * numbers (weir-seq). Formatting them with snprintf and strftime was a
 * quarter of the relay thread's time per event (docs/benchmarks.md).
 * Header-only so that each backend library carries its own copy and
 * nothing new is exported.
 */
#ifndef WEIR_BRIDGE_CETEXT_H
#define WEIR_BRIDGE_CETEXT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Writes @p v in decimal with a NUL into @p out (21 bytes at least);
 * returns the length. */
static inline size_t
weir__ce_u64(uint64_t v, char *out)
{
	char   tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

/* Writes @p v as @p width digits, zero-padded. */
static inline void
weir__ce_digits(char *out, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		out[i] = (char) ('0' + v % 10);
}

/* The proleptic Gregorian date of @p days since 1970-01-01 (Howard
 * Hinnant's civil_from_days), for days >= 0. */
static inline void
weir__ce_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t  z   = days + 719468;
	int64_t  era = z / 146097;
	unsigned doe = (unsigned) (z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp  = (5 * doy + 2) / 153;
	*d           = doy - (153 * mp + 2) / 5 + 1;
	*m           = mp < 10 ? mp + 3 : mp - 9;
	*y           = (int64_t) yoe + era * 400 + (*m <= 2);
}

/* Writes "YYYY-MM-DDTHH:MM:SS." for @p sec >= 0 (20 bytes, no NUL). */
static inline void
weir__ce_date(int64_t sec, char out[20])
{
	int64_t  y;
	unsigned m, d;
	weir__ce_civil(sec / 86400, &y, &m, &d);
	int64_t s = sec % 86400;
	weir__ce_digits(out, (uint64_t) y, 4);
	weir__ce_digits(out + 5, m, 2);
	weir__ce_digits(out + 8, d, 2);
	weir__ce_digits(out + 11, (uint64_t) (s / 3600), 2);
	weir__ce_digits(out + 14, (uint64_t) (s / 60 % 60), 2);
	weir__ce_digits(out + 17, (uint64_t) (s % 60), 2);
	out[4] = out[7] = '-';
	out[10]         = 'T';
	out[13] = out[16] = ':';
	out[19]           = '.';
}

/* RFC 3339 UTC with nanoseconds, e.g. 2025-01-31T12:00:00.123456789Z,
 * with a NUL (31 bytes). Times before 1970 take the slow path through
 * gmtime_r, which knows them; int64 nanoseconds end in 2262, so every
 * later time has a four-digit year and takes the fast path. A relay
 * formats runs of events from the same second: each thread keeps the
 * text of the last second it formatted (per thread: no lock, no race),
 * which leaves the nine digits of the fraction to write. */
static inline void
weir__ce_time(int64_t ns, char out[40])
{
	static _Thread_local int64_t last_sec = -1;
	static _Thread_local char    last_date[20];
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		sec -= 1;
	}
	if (sec < 0) {
		time_t    t = (time_t) sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(out + 19, 21, ".%09lldZ", (long long) frac);
		return;
	}
	if (sec != last_sec) {
		weir__ce_date(sec, last_date);
		last_sec = sec;
	}
	memcpy(out, last_date, 20);
	weir__ce_digits(out + 20, (uint64_t) frac, 9);
	out[29] = 'Z';
	out[30] = '\0';
}

#endif
