/*
 * fuzz_json: the json parser plugin (plugins/json) through its pw_plugin.h entry, the body
 * taken from the input and evaluated against fixed lists of queries: the demo's paths, and
 * paths of every kind the subset has (names, quoted names, indices, filters, a broken path and
 * a missing one).
 */
#include "fuzz.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char *const demo[] = {
    "$.as_of",
    "$.items[?@.code=='TJ01'].value",
    "$.items[?@.code=='TW01'].value",
    "$.items[?@.code=='TW01'].as_of",
    "$.items[?@.code=='TW02'].value",
    "$.items[?@.code=='YS01'].value",
};

static const char *const kinds[] = {
    "$",
    "$.a",
    "$.a.b.c",
    "$.a[0]",
    "$.a[-1]",
    "$['数据']['完成值']",
    "$.数据.完成值",
    "$['a b']",
    "$.items[?@.n==3].v",
    "$.items[?@.n==-1.5e3]",
    "$.items[?@.meta.code=='x'].v",
    "$.items[?@.list[0]==1].v",
    "$.g[?@.id=='a'].items[?@.code=='x'].value",
    "$.a[",
    NULL,
    "nope",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);

  if (p == NULL)
    pw_fuzz_fail("json: no plugin");
  pw_fuzz_plugin_run(p, NULL, data, size, demo, sizeof(demo) / sizeof(demo[0]), NULL);
  pw_fuzz_plugin_run(p, NULL, data, size, kinds, sizeof(kinds) / sizeof(kinds[0]), NULL);
  return 0;
}
