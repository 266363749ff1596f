/* th_asan.h -- TH_ASAN: 1 in a build with AddressSanitizer, else 0.
 *
 * Tests whose expectations differ under ASan (no RLIMIT_AS for its shadow
 * memory, poisoned arena blocks) test it with `#if TH_ASAN` or
 * `if (TH_ASAN)`. Header only, so unit tests need no harness. */
#ifndef TH_ASAN_H
#define TH_ASAN_H

/* gcc defines __SANITIZE_ADDRESS__ under ASan; clang answers through
 * __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define TH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif
#ifndef TH_ASAN
#define TH_ASAN 0
#endif

#endif
