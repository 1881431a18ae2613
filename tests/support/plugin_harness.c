/*
 * plugin_harness.c: the host, the emit callback and the run helper shared by the unit tests of
 * the parser plugins (see plugin_harness.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "plugin_harness.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

struct got got[PW_TEST_MAXQ];
const struct pw_plugin *pw_test_plugin;
static int stray; /* emits with an index out of range */

static void host_log(int level, const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[%d] %s: ", level, name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static const struct pw_plugin_host host = {
    .abi_major = PW_PLUGIN_ABI_MAJOR,
    .abi_minor = PW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct pw_plugin_host),
    .log = host_log,
};

static void on_emit(void *ctx, size_t index, const struct pw_plugin_value *v) {
  (void)ctx;
  if (index >= PW_TEST_MAXQ) {
    stray++;
    return;
  }
  struct got *g = &got[index];
  g->calls++;
  g->result = v->result;
  g->number = v->number;
  g->has_text = v->text != NULL;
  g->text_len = v->text_len;
  g->has_timestamp = v->has_timestamp;
  g->timestamp_ms = v->timestamp_ms;
  if (v->text && v->text_len < sizeof g->text) {
    memcpy(g->text, v->text, v->text_len);
    g->text[v->text_len] = 0;
  }
  if (v->error)
    snprintf(g->error, sizeof g->error, "%s", v->error);
}

int pw_test_setup(void **state) {
  (void)state;
  pw_test_plugin = pw_plugin_entry(&host);
  return pw_test_plugin ? 0 : -1;
}

int pw_test_run(const struct pw_plugin_options *opts, const char *body, size_t len,
                const char *const *paths, size_t n, char *err, size_t errlen) {
  char own[512] = "";
  if (!err) {
    err = own;
    errlen = sizeof own;
  }
  memset(got, 0, sizeof got);
  stray = 0;
  int rc = pw_test_plugin->parse(opts, body, len, paths, n, on_emit, NULL, err, errlen);
  if (rc != 0 && err == own)
    fprintf(stderr, "parse failed: %s\n", own);
  assert_int_equal(stray, 0);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(got[i].calls, rc == 0 ? 1 : 0);
  return rc;
}

int pw_test_run_str(const struct pw_plugin_options *opts, const char *body,
                    const char *const *paths, size_t n) {
  return pw_test_run(opts, body, strlen(body), paths, n, NULL, 0);
}

void expect_text(size_t i, const char *text) {
  assert_int_equal(got[i].result, PW_PLUGIN_TEXT);
  assert_int_equal(got[i].text_len, strlen(text));
  assert_string_equal(got[i].text, text);
}

void expect_error(size_t i, const char *part) {
  assert_int_equal(got[i].result, PW_PLUGIN_ERROR);
  if (!strstr(got[i].error, part))
    fail_msg("error '%s' does not contain '%s'", got[i].error, part);
}
