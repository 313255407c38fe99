/* UTF-8 checks shared by the readers (reject ids that are not text) and the
 * JSON writer (never emit a byte that is not text). */
#include "internal.h"

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. Returns the length (1..4) of the valid sequence at s, or 0. */
size_t prillm__utf8_sequence(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F; /* U+D800..U+DFFF are surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return len;
}

size_t prillm__utf8_invalid_at(const char *text, size_t length) {
    const unsigned char *s = (const unsigned char *)text;
    size_t k = 0;
    while (k < length) {
        if (s[k] < 0x80) {
            k++;
            continue;
        }
        size_t len = prillm__utf8_sequence(s + k, length - k);
        if (!len) return k;
        k += len;
    }
    return length;
}
