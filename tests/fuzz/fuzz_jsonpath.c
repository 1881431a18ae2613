/*
 * fuzz_jsonpath: the JSONPath subset of the json plugin (plugins/json), its path compiler and
 * evaluator, with the path taken from the input: the first line is the path and the rest the
 * document; an input without a newline is a path evaluated against a fixed document (the
 * demo's health.json, with arrays, filters' targets, Chinese keys, null and a boolean). The
 * path goes through check_path and through parse as the one query; a path check_path refuses
 * must come back from parse as an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

const struct pw_plugin *pw_plugin_entry(const struct pw_plugin_host *host);

static const char document[] =
    "{\"department\": \"县卫健局\", \"as_of\": \"2024年4月25日\", \"n\": null, \"t\": true,\n"
    " \"a\": [1, 2.5, \"3\", [4, 5], {\"b\": 6}], \"数据\": {\"完成值\": \"1.2万\", \"单位 名\": "
    "\"人\"},\n"
    " \"items\": [\n"
    "  {\"code\": \"TJ01\", \"value\": \"37,774\", \"n\": 3, \"meta\": {\"code\": \"x\"}},\n"
    "  {\"code\": \"TW01\", \"value\": 4.35, \"as_of\": \"2024-03-31\", \"list\": [1]},\n"
    "  {\"code\": \"TW02\", \"value\": \"67.23%\", \"n\": -1500},\n"
    "  {\"code\": \"TW02\", \"value\": 1e300}],\n"
    " \"g\": [{\"id\": \"a\", \"items\": [{\"code\": \"x\", \"value\": 7}]}]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct pw_plugin *p = pw_plugin_entry(&pw_fuzz_host);
  const uint8_t *nl = memchr(data, '\n', size);
  size_t plen = nl ? (size_t)(nl - data) : size;
  char *path = pw_fuzz_cstr(data, plen);
  const char *const paths[] = {path};
  enum pw_plugin_result result;
  char err[512];
  int checked, rc;

  if (p == NULL)
    pw_fuzz_fail("jsonpath: no plugin");
  checked = p->check_path(path, err, sizeof(err));
  if (checked != 0 && checked != -EINVAL && checked != -ENOMEM)
    pw_fuzz_fail("jsonpath: check_path returned %d", checked);
  if (nl != NULL)
    rc = pw_fuzz_plugin_run(p, NULL, nl + 1, size - plen - 1, paths, 1, &result);
  else
    rc = pw_fuzz_plugin_run(p, NULL, (const uint8_t *)document, sizeof(document) - 1, paths, 1,
                            &result);
  if (rc == 0 && checked == -EINVAL && result != PW_PLUGIN_ERROR)
    pw_fuzz_fail("jsonpath: check_path refuses '%s' but parse gave result %d", path, (int)result);
  free(path);
  return 0;
}
