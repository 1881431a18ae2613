/*
 * fuzz.h: what the fuzz targets of tests/fuzz/ share. Each target is one file fuzz_<name>.c
 * defining LLVMFuzzerTestOneInput (and, when it needs one-time setup, LLVMFuzzerInitialize);
 * it is linked either with libFuzzer (tests/fuzz/run.sh, clang) or with replay.c, a main that
 * runs every file of a corpus directory through it once (ctest, label fuzz). A target reports a
 * broken promise of the code under test with pw_fuzz_fail, which aborts, so both the fuzzer and
 * the replay stop on it just as on a sanitizer report.
 */
#ifndef PW_FUZZ_H
#define PW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "pw_plugin.h"

/* The libFuzzer entry points (see https://llvm.org/docs/LibFuzzer.html). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints "fuzz: " and the message to stderr and aborts. */
void pw_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A NUL-terminated copy of the SIZE bytes at DATA (owned; free it). Aborts when out of memory. */
char *pw_fuzz_cstr(const uint8_t *data, size_t size);

/* A private directory made once per process under $TMPDIR (or /tmp) and removed at exit with
 * everything in it. Aborts when it cannot be made. */
const char *pw_fuzz_tmpdir(void);

/* Writes the SIZE bytes at DATA to PATH (created or truncated). Aborts on failure. */
void pw_fuzz_write_file(const char *path, const void *data, size_t size);

/* The host the parser plugins are given: a log function that drops every line. */
extern const struct pw_plugin_host pw_fuzz_host;

/* Runs PLUGIN's parse on the SIZE bytes at DATA (passed as they are, not NUL-terminated) with
 * the N queries PATHS, and checks the promises of pw_plugin.h: parse returns 0, -EINVAL or
 * -ENOMEM; on success every query is reported exactly once, on failure none and ERR holds a
 * NUL-terminated message; every value reported is a known result with readable text and a
 * NUL-terminated error. Returns parse's result; on success *RESULTS (when not NULL, N entries)
 * receives each query's result. */
int pw_fuzz_plugin_run(const struct pw_plugin *plugin, const struct pw_plugin_options *opts,
                       const uint8_t *data, size_t size, const char *const *paths, size_t n,
                       enum pw_plugin_result *results);

#endif
