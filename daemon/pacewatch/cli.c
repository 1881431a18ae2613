/*
 * cli: the `pacewatch` program, the county IT officer's tool beside the daemon: validate a
 * configuration, import a spreadsheet export, record a figure by hand, judge every indicator
 * as of any instant, and export what is stored. Exit status: 0 success, 1 runtime or data
 * failure, 2 usage or configuration error (docs/cli.md). This file reads the command line and
 * the configuration and hands them to the command, one file each (cmd_*.c).
 */
#define PW_LOG_MODULE "cli"
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"

void cli_usage(FILE *out) {
  fputs("usage: pacewatch COMMAND -c FILE [options]\n"
        "       pacewatch --version\n"
        "\n"
        "commands:\n"
        "  check  -c FILE                          validate a configuration\n"
        "  status -c FILE [--at TIME] [--json]     judge every indicator as of TIME\n"
        "  import -c FILE CSV|XLSX [--sheet NAME] [--columns indicator=A,as_of=B,value=C[,note=D]\n"
        "         [--first-row N]]                 load samples (indicator,as_of,value[,note])\n"
        "  record -c FILE ID VALUE [--as-of TIME] [--note TEXT]  add one sample by hand\n"
        "  export -c FILE ID [--from TIME] [--to TIME] [--format csv|json]\n"
        "  rebuild -c FILE                         regenerate every RRD file from the journal\n"
        "  graph -c FILE ID [--at TIME] [--format png|svg] -o OUT\n"
        "                                          one indicator's trend graph for the year\n"
        "  briefing -c FILE [--at TIME] [-o DIR]   the weekly briefing (HTML and Markdown)\n"
        "  silence -c FILE add ID --until DATE [--reason TEXT] | list | remove ID\n"
        "\n"
        "TIME is YYYY-MM-DD (the end of that day) or an ISO 8601 date-time with offset.\n",
        out);
}

static int load_config(struct cli *c) {
  char err[1024];

  if (c->config_path == NULL) {
    fprintf(stderr, "pacewatch: -c FILE is required\n");
    return EXIT_USAGE;
  }
  if (pw_config_load(c->config_path, &c->conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return EXIT_USAGE;
  }
  pw_log_set_level((enum pw_log_level)c->conf->daemon.log_level);
  return EXIT_OK;
}

/* The commands, one file each. */
static const struct command {
  const char *name;
  int (*run)(struct cli *);
} commands[] = {{"check", cmd_check},     {"status", cmd_status},
                {"import", cmd_import},   {"record", cmd_record},
                {"export", cmd_export},   {"rebuild", cmd_rebuild},
                {"graph", cmd_graph},     {"briefing", cmd_briefing},
                {"silence", cmd_silence}, {NULL, NULL}};

/* Reads the options after the command (ARGV[1]) into C, and the positional arguments after
 * them. Returns -1 to go on, or the exit status (help printed, or a bad option). */
static int read_options(int argc, char **argv, struct cli *c) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"at", required_argument, NULL, 'a'},
                                       {"sheet", required_argument, NULL, 'S'},
                                       {"columns", required_argument, NULL, 'C'},
                                       {"first-row", required_argument, NULL, 'W'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"as-of", required_argument, NULL, 'A'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"until", required_argument, NULL, 'U'},
                                       {"reason", required_argument, NULL, 'R'},
                                       {"from", required_argument, NULL, 'F'},
                                       {"to", required_argument, NULL, 'T'},
                                       {"format", required_argument, NULL, 'm'},
                                       {"note", required_argument, NULL, 'N'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int opt;

  optind = 2;
  while ((opt = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      c->config_path = optarg;
      break;
    case 'a':
      c->at = optarg;
      break;
    case 'S':
      c->sheet = optarg;
      break;
    case 'C':
      c->columns = optarg;
      break;
    case 'W':
      c->first_row = optarg;
      break;
    case 'j':
      c->json = 1;
      break;
    case 'A':
      c->as_of = optarg;
      break;
    case 'N':
      c->note = optarg;
      break;
    case 'o':
      c->output = optarg;
      break;
    case 'U':
      c->until = optarg;
      break;
    case 'R':
      c->reason = optarg;
      break;
    case 'F':
      c->from = optarg;
      break;
    case 'T':
      c->to = optarg;
      break;
    case 'm':
      c->format = optarg;
      break;
    case 'h':
      cli_usage(stdout);
      return EXIT_OK;
    default:
      cli_usage(stderr);
      return EXIT_USAGE;
    }
  }
  c->argc = argc - optind;
  c->argv = argv + optind;
  return -1;
}

int main(int argc, char **argv) {
  const struct command *cmd;
  struct cli c;
  int rc;

  memset(&c, 0, sizeof(c));
  pw_log_open(0);
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    cli_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("pacewatch %s\n", PW_VERSION);
    return EXIT_OK;
  }
  for (cmd = commands; cmd->name; cmd++)
    if (strcmp(cmd->name, argv[1]) == 0)
      break;
  if (cmd->name == NULL) {
    fprintf(stderr, "pacewatch: unknown command '%s'\n", argv[1]);
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  rc = read_options(argc, argv, &c);
  if (rc >= 0)
    return rc;
  rc = load_config(&c);
  if (rc != EXIT_OK)
    return rc;
  rc = cmd->run(&c);
  pw_config_free(c.conf);
  return rc;
}
