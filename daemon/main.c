/*
 * main: the `pacewatchd` program. This release validates a configuration (-t, the same code
 * as `pacewatch check`); the polling loop arrives with the daemon.
 */
#define PW_LOG_MODULE "main"
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"

static void usage(FILE *out) {
  fputs("usage: pacewatchd -c FILE [-f] [-t] [--once] [--now TIME]\n", out);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"once", no_argument, NULL, 'o'},
                                       {"now", required_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *path = NULL;
  int opt, test = 0;
  struct pw_config *conf;
  char err[1024];

  pw_log_open(0);
  while ((opt = getopt_long(argc, argv, "c:fth", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      path = optarg;
      break;
    case 't':
      test = 1;
      break;
    case 'f':
    case 'o':
    case 'n':
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (path == NULL || optind != argc) {
    usage(stderr);
    return 2;
  }
  if (pw_config_load(path, &conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (test) {
    printf("%s: ok\n", path);
    pw_config_free(conf);
    return 0;
  }
  pw_config_free(conf);
  fprintf(stderr, "pacewatchd: this build validates configurations only (-t); the polling "
                  "loop is not part of it yet\n");
  return 1;
}
