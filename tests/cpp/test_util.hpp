// A tiny check helper shared by the C++ unit tests: no framework, no exceptions.
//
//   CHECK(cond)                       counts a pass or a failure (prints the first failures)
//   CHECK_MSG(cond, "fmt", args...)   same, with a printf-style explanation on failure
//   return milo_test::summary("test_x");   prints "test_x: N passed, M failed", returns 0 or 1
#pragma once
#include <cstdarg>
#include <cstdint>
#include <cstdio>

namespace milo_test {

struct Counts {
    uint64_t passed = 0;
    uint64_t failed = 0;
};

inline Counts& counts() {
    static Counts c;
    return c;
}

// Only the first failures are printed, so that a broken invariant checked a
// million times does not flood the log.
constexpr uint64_t kMaxPrinted = 40;

inline void report_failure(const char* file, int line, const char* expr, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

inline void report_failure(const char* file, int line, const char* expr, const char* fmt, ...) {
    Counts& c = counts();
    ++c.failed;
    if (c.failed > kMaxPrinted) {
        if (c.failed == kMaxPrinted + 1) std::fprintf(stderr, "... (further failures not printed)\n");
        return;
    }
    std::fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
    if (fmt != nullptr && fmt[0] != '\0') {
        std::fprintf(stderr, " -- ");
        va_list ap;
        va_start(ap, fmt);
        std::vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    std::fputc('\n', stderr);
}

inline int summary(const char* name) {
    const Counts& c = counts();
    std::printf("%s: %llu passed, %llu failed\n", name, static_cast<unsigned long long>(c.passed),
                static_cast<unsigned long long>(c.failed));
    return c.failed == 0 ? 0 : 1;
}

}  // namespace milo_test

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            ++milo_test::counts().passed;                                              \
        } else {                                                                       \
            milo_test::report_failure(__FILE__, __LINE__, #cond, "%s", "");            \
        }                                                                              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        if (cond) {                                                                    \
            ++milo_test::counts().passed;                                              \
        } else {                                                                       \
            milo_test::report_failure(__FILE__, __LINE__, #cond, __VA_ARGS__);         \
        }                                                                              \
    } while (0)
