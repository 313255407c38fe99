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
 * reading <what>" and io_error (NULL: "error reading <what>"). */
PrillmErrorCode prillm__json_read_stream(FILE *stream, const char *what, const char *io_error, char **text,
                                         size_t *length, PrillmError *err);
PrillmErrorCode prillm__read_stream(FILE *stream, const char *what, char **text, size_t *length, PrillmError *err);

/* Parse exactly one JSON value from text[0..length): an embedded NUL, a
 * syntax error or text after the value give "malformed JSON at line L,
 * column C..." (prefixed "<what>: " when what is not NULL; "out of memory
 * reading <what or JSON>"); document names the value in "text after the
 * <document>". On success *root is the caller's to cJSON_Delete. */
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
