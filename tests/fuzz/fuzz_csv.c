/*
 * fuzz_csv: the csv parser plugin (plugins/csv) through its pw_plugin.h entry, the body taken
 * from the input, read with the delimiters sources use (',', ';', a tab) against fixed lists of
 * queries: the demo's paths and paths of every kind (a column alone, keyed, a quoted key, a
 * column name with brackets, Chinese names, a broken path and a missing one).
 */
#include "fuzz.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char *const demo[] = {
    "数值[指标=助餐配送餐服务人次]",
    "截至[指标=助餐配送餐服务人次]",
    "数值[指标=新增老年助餐服务点]",
    "数值[指标=每万老年人口拥有持证养老护理员数]",
};

static const char *const kinds[] = {
    "value[code=TJ01]",
    "value[code=TJ02]",
    "value",
    "name[code=TJ03]",
    "value[code='a b']",
    "value[code=\"TJ01\"]",
    " value [ code = TJ03 ] ",
    "b[a=1]",
    "a",
    "金额[万元]",
    "金额[万元][指标名称=地区生产总值]",
    "完成值[指标名称=规模以上工业增加值]",
    "v[=x]",
    "",
    NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delims[] = {',', ';', '\t'};
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);
  size_t i;

  if (p == NULL)
    pw_fuzz_fail("csv: no plugin");
  for (i = 0; i < sizeof(delims); i++) {
    struct pw_plugin_options opts = {.csv_delimiter = delims[i]};
    pw_fuzz_plugin_run(p, &opts, data, size, demo, sizeof(demo) / sizeof(demo[0]), NULL);
    pw_fuzz_plugin_run(p, &opts, data, size, kinds, sizeof(kinds) / sizeof(kinds[0]), NULL);
  }
  return 0;
}
