/* Writing a binary file form with a running CRC-32 of every byte written
 * (the market's and the aggregator's training data's trailers). Internal. */
#ifndef PRILLM_CHECKSUM_WRITER_H
#define PRILLM_CHECKSUM_WRITER_H

#include <stdio.h>
#include <zlib.h>

typedef struct {
    FILE *out;
    uLong crc;
} PrillmCrcWriter;

/* n bytes to the stream, and into the checksum (crc32 takes uInt lengths:
 * fed in pieces). Stream errors are the caller's to check with ferror. */
static inline void prillm__crc_write(PrillmCrcWriter *w, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t left = n; left > 0;) {
        uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;
        w->crc = crc32(w->crc, p, step);
        p += step;
        left -= step;
    }
    fwrite(data, 1, n, w->out);
}

#endif
