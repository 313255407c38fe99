/*
 * prillm — PRILLM_API marks the public functions.
 *
 * The library is compiled with -fvisibility=hidden, so only functions
 * declared with PRILLM_API (every function of the headers in include/prillm/) are exported
 * from libprillm.so; the internal prillm__* functions stay private to it.
 * Linking the static library, or another ELF toolchain, sees no difference.
 */
#ifndef PRILLM_EXPORT_H
#define PRILLM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PRILLM_API __attribute__((visibility("default")))
#else
#define PRILLM_API
#endif

#endif
