/* Little-endian integers in byte buffers, for the binary file forms (the
 * market, the aggregator's training data): the same bytes on every host.
 * Internal. */
#ifndef PRILLM_LITTLE_ENDIAN_H
#define PRILLM_LITTLE_ENDIAN_H

#include <stdint.h>

static inline void prillm__put_u32(unsigned char *b, uint32_t v) {
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (8 * k));
}
static inline void prillm__put_u64(unsigned char *b, uint64_t v) {
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(v >> (8 * k));
}
static inline uint32_t prillm__get_u32(const unsigned char *b) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--) v = (v << 8) | b[k];
    return v;
}
static inline uint64_t prillm__get_u64(const unsigned char *b) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | b[k];
    return v;
}

#endif
