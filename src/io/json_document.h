/* Reading JSON documents: the parts every input format shares (whole-stream
 * reads, parsing with line/column errors, object-key checks, typed fields).
 * Internal. */
#ifndef PRILLM_JSON_DOCUMENT_H
#define PRILLM_JSON_DOCUMENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "prillm/prillm.h"

typedef struct {
    PrillmWarnFn warn;
    void *context;
} PrillmJsonWarner;

/* Read a stream to its end into a NUL-terminated buffer. On failure the messages are "out of memory
 * reading <what>", io_error (NULL: "error reading <what>") and, past PRILLM_MAX_INPUT_BYTES,
 * "input exceeds the 1 GiB limit ... reading <what>" (PRILLM_ERR_PARSE; a regular file is refused from its
 * size, before reading). */
PrillmErrorCode prillm__json_read_stream(FILE *stream, const char *what, const char *io_error, char **text,
                                         size_t *length, PrillmError *err);
PrillmErrorCode prillm__read_stream(FILE *stream, const char *what, char **text, size_t *length, PrillmError *err);
/* The same with another limit (tests lower it). */
PrillmErrorCode prillm__read_stream_limited(FILE *stream, const char *what, const char *io_error, size_t limit,
                                            char **text, size_t *length, PrillmError *err);
/* The limit's error: "input exceeds the <limit> limit (PRILLM_MAX_INPUT_BYTES) reading <what>", and the
 * limit as text ("1 GiB", "64 MiB", "100-byte"). */
PrillmErrorCode prillm__input_too_large(PrillmError *err, const char *what, size_t limit);
const char *prillm__input_limit_text(size_t limit, char *buf, size_t size);

/* The first escaped NUL (the six characters \u0000) inside a string of
 * the valid JSON text[0..length), or NULL: cJSON decodes one into a NUL
 * byte, which would cut the C string short. */
const char *prillm__json_escaped_nul(const char *text, size_t length);

/* Parse exactly one JSON value from text[0..length), a leading UTF-8 byte
 * order mark skipped: an embedded NUL (a byte, or \u0000 in a string), a
 * syntax error, nesting deeper than CJSON_NESTING_LIMIT or text after the
 * value give "malformed JSON at line L, column C..." (prefixed "<what>: " when what is not NULL; "out of memory
 * reading <what or JSON>"); document names the value in "text after the
 * <document>". A string or key that is not valid UTF-8 is an error naming
 * its path ("providers[3].id is not valid UTF-8", PRILLM_ERR_INVALID_DATA).
 * On success *root is the caller's to cJSON_Delete. */
PrillmErrorCode prillm__json_parse(const char *text, size_t length, const char *what, const char *document,
                                   cJSON **root, PrillmError *err);
/* The same with what as prefix and "object" as document. */
PrillmErrorCode prillm__json_parse_text(const char *text, size_t length, const char *what, cJSON **root,
                                        PrillmError *err);

/* Duplicate keys are an error (cJSON would silently keep the first); keys
 * neither in the NULL-terminated known list nor accepted by also_known (may
 * be NULL) are warned about, a few per object. */
PrillmErrorCode prillm__json_check_keys(const cJSON *object, const char *where, const char *const *known,
                                        int (*also_known)(const char *key), const PrillmJsonWarner *warner,
                                        PrillmError *err);

/* object.key as a number into *out ("<where>.<key> is missing" / "must be a
 * number"); missing or null and not required leaves *out as it was. */
PrillmErrorCode prillm__json_get_number(const cJSON *object, const char *key, const char *where, int required,
                                        double *out, PrillmError *err);
/* object.id as a newly allocated string. */
PrillmErrorCode prillm__json_get_id(const cJSON *object, const char *where, char **out, PrillmError *err);

#endif
