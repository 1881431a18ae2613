/*
 * Unit tests of plugin_host: the ABI checks, loading the real plugins of the build, refusing
 * a plugin of another major version that is found first, and checking configured paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"

static void test_accept(void **state) {
  struct pw_plugin pl;
  char err[256];

  (void)state;
  memset(&pl, 0, sizeof(pl));
  assert_int_equal(pw_plugins_accept(NULL, err, sizeof(err)), -EINVAL);
  pl.abi_major = PW_PLUGIN_ABI_MAJOR + 1;
  pl.struct_size = sizeof(pl);
  assert_int_equal(pw_plugins_accept(&pl, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "ABI"));
  pl.abi_major = PW_PLUGIN_ABI_MAJOR;
  pl.struct_size = sizeof(pl) - sizeof(void *);
  assert_int_equal(pw_plugins_accept(&pl, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "shorter"));
  pl.struct_size = sizeof(pl);
  assert_int_equal(pw_plugins_accept(&pl, err, sizeof(err)), -EINVAL); /* no name */
}

/* PW_BAD_PLUGIN_DIR holds bad_plugin.so named json.so's rival: it claims the name "json" with
 * ABI 99. Loaded first (PACEWATCH_PLUGIN_DIR), it must be refused so the real json plugin of
 * the build wins. */
static void test_load_refuses_other_abi(void **state) {
  struct pw_plugins *p = NULL;
  const struct pw_plugin *json;
  char err[256];

  (void)state;
  setenv("PACEWATCH_PLUGIN_DIR", PW_BAD_PLUGIN_DIR, 1);
  assert_int_equal(pw_plugins_load(&p, err, sizeof(err)), 0);
  json = pw_plugins_find(p, "json");
  assert_non_null(json);
  assert_int_equal(json->abi_major, PW_PLUGIN_ABI_MAJOR);
  assert_non_null(json->parse);
  assert_non_null(pw_plugins_find(p, "csv"));
  assert_non_null(pw_plugins_find(p, "prometheus"));
  assert_non_null(pw_plugins_find(p, "regex"));
  assert_null(pw_plugins_find(p, "xml"));
  pw_plugins_free(p);
}

static void test_check_config(void **state) {
  static const char *conf_text =
      "daemon: { state_dir = \"s\"; };\n"
      "domains = ( { id = \"d\"; name = \"D\"; } );\n"
      "sources = ( { id = \"j\"; url = \"x.json\"; format = \"json\"; } );\n"
      "indicators = ( { id = \"a\"; name = \"A\"; domain = \"d\"; source = \"j\";\n"
      "  path = \"$.items[\"; kind = \"level\"; targets = ( ); } );\n";
  char dir[] = "/tmp/pw-test-ph-XXXXXX", path[256], err[1024];
  struct pw_config *conf;
  struct pw_plugins *p;
  FILE *f;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/pw.conf", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(conf_text, f);
  fclose(f);
  assert_int_equal(pw_config_load(path, &conf, err, sizeof(err)), 0);
  unsetenv("PACEWATCH_PLUGIN_DIR");
  assert_int_equal(pw_plugins_load(&p, err, sizeof(err)), 0);
  assert_int_equal(pw_plugins_check_config(p, conf, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":4: indicator 'a': path:"));
  pw_plugins_free(p);
  pw_config_free(conf);
  remove(path);
  remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept),
      cmocka_unit_test(test_load_refuses_other_abi),
      cmocka_unit_test(test_check_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
