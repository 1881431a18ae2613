/*
 * unit_conf: see unit_conf.h.
 */
#include "unit_conf.h"

#include <stdio.h>
#include <stdlib.h>

int pw_unit_conf_open(char *template, const char *text, struct pw_config **conf) {
  char path[512], err[1024];
  FILE *f;

  if (mkdtemp(template) == NULL)
    return -1;
  snprintf(path, sizeof(path), "%s/pw.conf", template);
  f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs(text, f);
  if (fclose(f) != 0)
    return -1;
  if (pw_config_load(path, conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

int pw_unit_conf_close(struct pw_config *conf, const char *dir) {
  char cmd[600];

  pw_config_free(conf);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}
