/*
 * fuzz_prometheus: the prometheus parser plugin (plugins/prometheus) through its pw_plugin.h
 * entry, the body taken from the input and evaluated against fixed lists of selectors: the
 * demo's, and selectors of every kind (a name alone, labels with escapes and Chinese values,
 * a name with a colon, a refused matcher, a broken selector and a missing one).
 */
#include "fuzz.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char *const demo[] = {
    "pacewatch_demo_wage_security_index{county=\"平阳\"}",
    "pacewatch_demo_vocational_training{county=\"平阳\"}",
};

static const char *const kinds[] = {
    "up",
    "up{job=\"a\"}",
    "http_requests_total{method=\"post\",code=\"200\"}",
    "http_requests_total",
    "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\"}",
    "x{q=\"say \\\"hi\\\"\"}",
    "x{a=\"1\",}",
    "gdp_total{region=\"北京\"}",
    "colon:metric",
    "x",
    "up{a!=\"b\"}",
    "x{a=\"b\"",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);

  if (p == NULL)
    pw_fuzz_fail("prometheus: no plugin");
  pw_fuzz_plugin_run(p, NULL, data, size, demo, sizeof(demo) / sizeof(demo[0]), NULL);
  pw_fuzz_plugin_run(p, NULL, data, size, kinds, sizeof(kinds) / sizeof(kinds[0]), NULL);
  return 0;
}
