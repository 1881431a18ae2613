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
        "  check  -c FILE [--fetch]                validate a configuration (--fetch: and poll\n"
        "                                          every source, as fetch does)\n"
        "  fetch  -c FILE SOURCE [--indicator ID]  poll one source now; show what each indicator\n"
        "                                          would store (stores nothing)\n"
        "  status -c FILE [--at TIME] [--json]     judge every indicator as of TIME\n"
        "  import -c FILE CSV|XLSX [--sheet NAME] [--columns indicator=A,as_of=B,value=C[,note=D]\n"
        "         [--first-row N]]                 load samples (indicator,as_of,value[,note])\n"
        "  record -c FILE ID VALUE [--as-of TIME] [--note TEXT]  add one sample by hand\n"
        "  export -c FILE ID [--from TIME] [--to TIME] [--format csv|json]\n"
        "  rebuild -c FILE                         regenerate every RRD file from the journal\n"
        "  graph -c FILE ID [--at TIME] [--format png|svg] -o OUT\n"
        "                                          one indicator's trend graph for the year\n"
        "  briefing -c FILE [--at TIME] [-o DIR]   the weekly briefing (HTML and Markdown)\n"
        "  silence -c FILE add TARGET (--for DURATION | --until TIME) [--reason TEXT]\n"
        "          | list | remove SID       TARGET: an indicator ID or source:ID\n"
        "  token -c FILE add DEPARTMENT | list | revoke ID\n"
        "                                          the departments' reporting links\n"
        "  retract -c FILE ID AS_OF --reason TEXT  withdraw a wrong sample\n"
        "  explain -c FILE ID --reason TEXT [--measures TEXT] [--catch-up DATE] [--as-of TIME]\n"
        "                                          record a department's explanation (说明)\n"
        "\n"
        "TIME is YYYY-MM-DD (the end of that day) or an ISO 8601 date-time with offset.\n",
        out);
}

/* Prints the usage of command NAME only: its line of the general usage (and the lines that
 * continue it), so that the two never disagree (docs/cli.md). */
static void command_usage(const char *name, FILE *out) {
  char text[4096];
  FILE *mem = fmemopen(text, sizeof(text) - 1, "w");
  const char *p, *eol;
  size_t n = strlen(name);
  int in = 0, times = 0;

  if (mem == NULL) {
    cli_usage(out);
    return;
  }
  cli_usage(mem);
  text[ftell(mem) < 0 ? 0 : ftell(mem)] = '\0';
  fclose(mem);
  for (p = text; *p; p = *eol ? eol + 1 : eol) {
    const char *syn, *gap;
    eol = strchr(p, '\n');
    if (eol == NULL)
      eol = p + strlen(p);
    if (strncmp(p, "  ", 2) == 0 && strncmp(p + 2, name, n) == 0 && p[2 + n] == ' ') {
      /* "  status -c FILE [--at TIME]     judge ...": the synopsis, then what it does. */
      for (syn = p + 2 + n; syn < eol && *syn == ' '; syn++)
        ;
      gap = strstr(syn, "  ");
      if (gap == NULL || gap > eol)
        gap = eol;
      fprintf(out, "usage: pacewatch %s %.*s\n", name, (int)(gap - syn), syn);
      times = memmem(syn, (size_t)(gap - syn), "TIME", 4) != NULL;
      for (p = gap; p < eol && *p == ' '; p++)
        ;
      if (p < eol)
        fprintf(out, "  %.*s\n", (int)(eol - p), p);
      in = 1;
    } else if (in && strncmp(p, "   ", 3) == 0) {
      /* A continuation: indented deeper than a command's line (import's by nine spaces). */
      for (; p < eol && *p == ' '; p++)
        ;
      fprintf(out, "  %.*s\n", (int)(eol - p), p);
    } else {
      in = 0;
    }
  }
  if (times)
    fputs("\nTIME is YYYY-MM-DD (the end of that day) or an ISO 8601 date-time with offset.\n",
          out);
}

/* Loads the configuration for command NAME. Only `check` resolves every ${NAME} and *_file
 * (it validates what the daemon will run); the other commands never send, serve or fetch, so a
 * receiver's or a source's unset secret does not stop them, and `fetch` requires its source's
 * own keys (docs/configuration.md#environment-variables). */
static int load_config(struct cli *c, const char *name) {
  unsigned flags = strcmp(name, "check") == 0 ? 0 : PW_CONFIG_LAZY_SECRETS;
  char err[1024];

  if (c->config_path == NULL) {
    fprintf(stderr, "pacewatch: -c FILE is required\n");
    return EXIT_USAGE;
  }
  if (pw_config_load_flags(c->config_path, flags, &c->conf, err, sizeof(err)) < 0) {
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
                {"silence", cmd_silence}, {"fetch", cmd_fetch},
                {"token", cmd_token},     {"retract", cmd_retract},
                {"explain", cmd_explain}, {NULL, NULL}};

/* Whether command NAME, as C asks it, writes the state directory (docs/cli.md#who-may-write):
 * then it runs only as the directory's owner. */
static int writes_state(const char *name, const struct cli *c) {
  static const char *const writers[] = {"import",  "record",  "rebuild", "silence",
                                        "retract", "explain", "token",   NULL};
  int i;

  if ((strcmp(name, "silence") == 0 || strcmp(name, "token") == 0) && c->argc > 0 &&
      strcmp(c->argv[0], "list") == 0)
    return 0;
  for (i = 0; writers[i]; i++)
    if (strcmp(name, writers[i]) == 0)
      return 1;
  return 0;
}

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
                                       {"indicator", required_argument, NULL, 'I'},
                                       {"fetch", no_argument, NULL, 'f'},
                                       {"for", required_argument, NULL, 'D'}, /* silence add */
                                       {"measures", required_argument, NULL, 'M'},
                                       {"catch-up", required_argument, NULL, 'K'},
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
    case 'M':
      c->measures = optarg;
      break;
    case 'K':
      c->catch_up = optarg;
      break;
    case 'o':
      c->output = optarg;
      break;
    case 'U':
      c->until = optarg;
      break;
    case 'D':
      c->for_text = optarg;
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
    case 'I':
      c->indicator = optarg;
      break;
    case 'f':
      c->fetch = 1;
      break;
    case 'h':
      command_usage(argv[1], stdout);
      return EXIT_OK;
    default:
      command_usage(argv[1], stderr);
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
  rc = load_config(&c, cmd->name);
  if (rc != EXIT_OK)
    return rc;
  if (writes_state(cmd->name, &c) && cli_check_owner(&c, argc, argv) < 0) {
    pw_config_free(c.conf);
    return EXIT_FAIL;
  }
  rc = cmd->run(&c);
  pw_config_free(c.conf);
  return rc;
}
