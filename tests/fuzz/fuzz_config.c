/*
 * fuzz_config: the configuration loader (daemon/core/config.h) on a file holding the input,
 * pacewatch.conf in a private directory beside two files it may @include (receivers.conf,
 * sources.conf). An @include whose name is anything but a plain file name of that directory
 * (a slash, "..", an escape, a line end...) is blanked out before the file is written, so the
 * loader never reads outside the directory, and never a device or a FIFO. A configuration that
 * loads is walked (every indicator's target and pace) and released through a second reference.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static const char receivers[] = "receivers = (\n"
                                  "  { id = \"ops_log\"; type = \"log\"; },\n"
                                  "  { id = \"hook\"; type = \"webhook\"; url = "
                                  "\"http://127.0.0.1:9/hook\"; }\n"
                                  ");\n";
  static const char sources[] = "sources = (\n"
                                "  { id = \"health\"; url = \"data/health.json\"; format = "
                                "\"json\"; as_of = \"$.as_of\"; interval = \"1h\"; }\n"
                                ");\n";
  const char *dir = pw_fuzz_tmpdir();
  char inc[4200];

  (void)argc;
  (void)argv;
  pw_log_set_level(PW_LOG_ERROR);
  snprintf(inc, sizeof(inc), "%s/receivers.conf", dir);
  pw_fuzz_write_file(inc, receivers, sizeof(receivers) - 1);
  snprintf(inc, sizeof(inc), "%s/sources.conf", dir);
  pw_fuzz_write_file(inc, sources, sizeof(sources) - 1);
  snprintf(path, sizeof(path), "%s/pacewatch.conf", dir);
  return 0;
}

/* Whether the N bytes at S are a plain file name: letters, digits, '_', '-' and '.', not
 * starting with '.'. */
static int plain_name(const char *s, size_t n) {
  size_t i;

  if (n == 0 || n > 64 || s[0] == '.')
    return 0;
  for (i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
      return 0;
  return 1;
}

/* Blanks the '@' of every "@include" (in any case) whose file name, from the first quote after
 * it to the next, is not a plain name. Both libconfig and the loader's own pre-scan take the
 * name between those quotes, and a plain name needs no escape, so neither can be led elsewhere. */
static void confine_includes(char *text, size_t len) {
  static const char word[] = "@include";
  size_t i, k;

  for (i = 0; i + 8 <= len; i++) {
    const char *q, *qe;
    for (k = 0; k < 8 && tolower((unsigned char)text[i + k]) == word[k]; k++)
      ;
    if (k < 8)
      continue;
    q = memchr(text + i + 8, '"', len - i - 8);
    qe = q ? memchr(q + 1, '"', (size_t)(text + len - q - 1)) : NULL;
    if (qe == NULL || !plain_name(q + 1, (size_t)(qe - q - 1)))
      text[i] = ' ';
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pw_fuzz_cstr(data, size);
  struct pw_config *conf = NULL;
  char err[1024];
  int rc, i;

  confine_includes(text, size);
  pw_fuzz_write_file(path, text, size);
  free(text);
  memset(err, 0x55, sizeof(err));
  rc = pw_config_load(path, &conf, err, sizeof(err));
  if (rc != 0) {
    if (conf != NULL)
      pw_fuzz_fail("config: load failed (%d) but gave a configuration", rc);
    if (memchr(err, '\0', sizeof(err)) == NULL || (err[0] == '\0' && rc != -ENOMEM))
      pw_fuzz_fail("config: load failed (%d) without a message", rc);
    return 0;
  }
  if (conf == NULL)
    pw_fuzz_fail("config: load succeeded without a configuration");
  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_indicator *ind = &conf->indicators[i];
    if (pw_config_indicator_index(conf, ind->id) != i)
      pw_fuzz_fail("config: indicator '%s' is not found at its own index", ind->id);
    (void)pw_config_pace(ind, pw_config_target(ind, 2024));
    (void)pw_kind_name(ind->kind);
  }
  pw_config_free(pw_config_ref(conf));
  pw_config_free(conf);
  return 0;
}
