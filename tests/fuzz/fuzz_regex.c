/*
 * fuzz_regex: the regex parser plugin (plugins/regex) through its pw_plugin.h entry, the body
 * taken from the input and searched with fixed lists of expressions: the demo's, and
 * expressions of the shapes sources use (anchors, bracket expressions, alternatives, an
 * optional group, Chinese literals, a broken expression, one without a group, a missing one).
 * The input's first line (at most 256 bytes) is also given to check_path, which guards regcomp
 * against expressions that would take it too long.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char *const demo[] = {
    "平阳县</td><td class=\"score\">([0-9.]+)<",
    "截至([0-9]+年[0-9]+月[0-9]+日)",
};

static const char *const kinds[] = {
    "value=([0-9]+)",
    "([0-9,.]+)万",
    "^([^,]*),",
    "<td>([^<]*)</td>",
    "(a|b)?c",
    "a(b)?",
    "([[:digit:]]+(\\.[[:digit:]]+)?)%$",
    "总量[^0-9]*([0-9]{1,3}(,[0-9]{3})*)",
    "a(",
    "abc",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);
  const uint8_t *nl = memchr(data, '\n', size);
  size_t first = nl ? (size_t)(nl - data) : size;
  char err[512];

  if (p == NULL)
    pw_fuzz_fail("regex: no plugin");
  pw_fuzz_plugin_run(p, NULL, data, size, demo, sizeof(demo) / sizeof(demo[0]), NULL);
  pw_fuzz_plugin_run(p, NULL, data, size, kinds, sizeof(kinds) / sizeof(kinds[0]), NULL);
  if (first <= 256) {
    char *expr = pw_fuzz_cstr(data, first);
    int rc = p->check_path(expr, err, sizeof(err));
    if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
      pw_fuzz_fail("regex: check_path returned %d", rc);
    free(expr);
  }
  return 0;
}
