// Error strings, generated from the one X-macro list in weir.h
// (libuv UV_ERRNO_MAP).
#include <weir/weir.h>

static const char *const err_text[] = {
#define ERR_TEXT_(name, text) text,
	WEIR_ERRORS(ERR_TEXT_)
#undef ERR_TEXT_
};

static const char *const err_names[] = {
#define ERR_NAME_(name, text) "WEIR_" #name,
	WEIR_ERRORS(ERR_NAME_)
#undef ERR_NAME_
};

const char *
weir_strerror(weir_err e)
{
	if ((unsigned) e >= WEIR_ERR_COUNT_) {
		return "unknown error";
	}
	return err_text[e];
}

const char *
weir_err_name(weir_err e)
{
	if ((unsigned) e >= WEIR_ERR_COUNT_) {
		return "WEIR_EUNKNOWN";
	}
	return err_names[e];
}
