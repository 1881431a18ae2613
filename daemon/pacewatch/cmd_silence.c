/* silence: adds, lists and removes the silences kept in state_dir/silences.json. */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "silence.h"
#include "util.h"

static void usage(void) {
  fprintf(stderr, "usage: pacewatch silence -c FILE add TARGET (--for DURATION | --until TIME) "
                  "[--reason TEXT] | list | remove SID\n"
                  "TARGET is an indicator ID or source:ID (every indicator of the source and its "
                  "source_down alert); DURATION e.g. 90m, 12h, 3d, 1w\n");
}

/* Whether TARGET names an indicator or (source:ID) a source of the configuration; prints why
 * not. */
static int target_known(struct cli *c, const char *target) {
  int i;

  if (strncmp(target, "source:", 7) != 0)
    return cli_find_indicator(c, target) >= 0;
  for (i = 0; i < c->conf->n_sources; i++)
    if (strcmp(c->conf->sources[i].id, target + 7) == 0)
      return 1;
  fprintf(stderr, "pacewatch: unknown source '%s' (not in %s)\n", target + 7, c->config_path);
  return 0;
}

/* Who runs the command, for the list's "added by". */
static void whoami(char *buf, size_t size) {
  struct passwd *pw = getpwuid(geteuid());

  if (pw != NULL && pw->pw_name != NULL)
    snprintf(buf, size, "%s", pw->pw_name);
  else
    snprintf(buf, size, "uid %lu", (unsigned long)geteuid());
}

static int list(struct cli *c, json_t *silences, int64_t now) {
  char t[40], a[40];
  size_t i;
  json_t *s;

  printf("ID\tTARGET\tUNTIL\tSTATE\tREASON\tADDED\n");
  for (i = 0; i < (size_t)c->conf->n_silences; i++) {
    const struct pw_silence *cs = &c->conf->silences[i];
    printf("-\t%s\t%s\t%s\t%s\tconfiguration line %d\n", cs->indicator,
           pw_calendar_format(cs->until, t, sizeof(t)), now < cs->until ? "active" : "ended",
           cs->reason, cs->line);
  }
  json_array_foreach(silences, i, s) {
    const char *target = pw_silence_target(s);
    json_int_t until = json_integer_value(json_object_get(s, "until"));
    json_int_t created = json_integer_value(json_object_get(s, "created"));
    const char *reason = json_string_value(json_object_get(s, "reason"));
    const char *by = json_string_value(json_object_get(s, "by"));
    const char *sid = json_string_value(json_object_get(s, "id"));
    printf("%s\t%s\t%s\t%s\t%s\t%s%s%s\n", sid != NULL ? sid : "?", target != NULL ? target : "?",
           pw_calendar_format(until, t, sizeof(t)), now < until ? "active" : "ended",
           reason != NULL ? reason : "", by != NULL ? by : "", by != NULL ? " " : "",
           created > 0 ? pw_calendar_format(created, a, sizeof(a)) : "");
  }
  return EXIT_OK;
}

static int add(struct cli *c, json_t *silences, int64_t now, char *done, size_t size) {
  const char *target = c->argv[1];
  char err[300], by[64], t[40];
  int64_t until;
  int rc;

  if (!target_known(c, target))
    return EXIT_USAGE;
  rc = pw_silence_until(c->for_text, c->until, now, &until, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "pacewatch: silence add: %s\n", err);
    if (rc == -EINVAL)
      usage();
    return EXIT_USAGE;
  }
  whoami(by, sizeof(by));
  if (json_array_append_new(silences,
                            json_pack("{s:s,s:I,s:s,s:I,s:s}", "target", target, "until",
                                      (json_int_t)until, "reason", c->reason ? c->reason : "",
                                      "created", (json_int_t)now, "by", by)) != 0 ||
      pw_silence_assign_ids(silences) < 0) {
    /* (json_pack refuses a string that is not UTF-8.) */
    fprintf(stderr, "pacewatch: silence add: cannot record it (is --reason UTF-8 text?)\n");
    return EXIT_FAIL;
  }
  snprintf(done, size, "%s: silence of %s until %s added\n",
           json_string_value(
               json_object_get(json_array_get(silences, json_array_size(silences) - 1), "id")),
           target, pw_calendar_format(until, t, sizeof(t)));
  return -1;
}

static int remove_one(struct cli *c, json_t *silences, char *done, size_t size) {
  const char *sid = c->argv[1];
  int at = pw_silence_find(silences, sid);
  size_t i;
  json_t *s;

  if (at < 0) {
    fprintf(stderr, "pacewatch: no silence with id '%s' in %s/silences.json", sid,
            c->conf->daemon.state_dir);
    /* The old form named the indicator: say which ids it has. */
    json_array_foreach(silences, i, s) {
      const char *target = pw_silence_target(s);
      if (target != NULL && strcmp(target, sid) == 0)
        fprintf(stderr, "; %s is silenced by %s", sid, json_string_value(json_object_get(s, "id")));
    }
    fprintf(stderr, " (`pacewatch silence list` shows the ids)\n");
    return EXIT_FAIL;
  }
  if (json_array_remove(silences, (size_t)at) != 0)
    return EXIT_FAIL;
  snprintf(done, size, "%s: silence removed\n", sid);
  return -1;
}

/* `silence add TARGET (--for D | --until TIME) [--reason TEXT]`, `silence list`, `silence remove
 * SID`: kept in state_dir/silences.json, which a running daemon re-reads every minute. The file
 * is small and written atomically, so the CLI edits it itself even beside a running daemon.
 * Silences of files written before ids get theirs (pw_silence_assign_ids) on every reading, the
 * same each time, and keep them from the next write on (docs/alerts.md "Silences"). */
int cmd_silence(struct cli *c) {
  const char *op = c->argc > 0 ? c->argv[0] : "";
  const char *state = c->conf->daemon.state_dir;
  json_t *silences;
  int64_t now = pw_clock_now();
  char done[512] = "";
  int rc;

  pw_mkdir_p(state);
  silences = pw_silence_load(state);
  if (silences == NULL || pw_silence_assign_ids(silences) < 0) {
    json_decref(silences);
    return EXIT_FAIL;
  }
  if (strcmp(op, "list") == 0 && c->argc == 1) {
    rc = list(c, silences, now);
  } else if (strcmp(op, "add") == 0 && c->argc == 2) {
    rc = add(c, silences, now, done, sizeof(done));
  } else if (strcmp(op, "remove") == 0 && c->argc == 2) {
    rc = remove_one(c, silences, done, sizeof(done));
  } else {
    usage();
    rc = EXIT_USAGE;
  }
  if (rc < 0 && pw_silence_save(state, silences) < 0) {
    fprintf(stderr, "pacewatch: cannot write %s/silences.json\n", state);
    rc = EXIT_FAIL;
  } else if (rc < 0) {
    fputs(done, stdout);
  }
  json_decref(silences);
  return rc < 0 ? EXIT_OK : rc;
}
