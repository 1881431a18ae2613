/* silence: adds, lists and removes the silences kept in state_dir/silences.json. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "silence.h"
#include "util.h"

/* `silence add ID --until DATE [--reason TEXT]`, `silence list`, `silence remove ID`: kept in
 * state_dir/silences.json, which a running daemon re-reads every minute. The file is small and
 * written atomically, so the CLI edits it itself even beside a running daemon. */
int cmd_silence(struct cli *c) {
  const char *op = c->argc > 0 ? c->argv[0] : "";
  const char *state = c->conf->daemon.state_dir;
  json_t *list;
  int64_t now = pw_clock_now();
  size_t i;
  json_t *s;

  pw_mkdir_p(state);
  list = pw_silence_load(state);
  if (list == NULL)
    return EXIT_FAIL;
  if (strcmp(op, "list") == 0 && c->argc == 1) {
    char t[40];
    for (i = 0; i < (size_t)c->conf->n_silences; i++) {
      const struct pw_silence *cs = &c->conf->silences[i];
      printf("%s\tuntil %s\t%s\t(configuration)\n", cs->indicator,
             pw_calendar_format(cs->until, t, sizeof(t)), cs->reason);
    }
    json_array_foreach(list, i, s) {
      json_int_t until = json_integer_value(json_object_get(s, "until"));
      const char *reason = json_string_value(json_object_get(s, "reason"));
      printf("%s\tuntil %s\t%s%s\n", json_string_value(json_object_get(s, "indicator")),
             pw_calendar_format(until, t, sizeof(t)), reason ? reason : "",
             until <= now ? "\t(ended)" : "");
    }
    json_decref(list);
    return EXIT_OK;
  }
  if (strcmp(op, "add") == 0 && c->argc == 2) {
    int64_t until;
    if (cli_find_indicator(c, c->argv[1]) < 0) {
      json_decref(list);
      return EXIT_USAGE;
    }
    if (c->until == NULL || cli_time_arg("--until", c->until, &until) < 0) {
      fprintf(stderr, "pacewatch: silence add needs --until DATE\n");
      json_decref(list);
      return EXIT_USAGE;
    }
    json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:I}", "indicator", c->argv[1], "until",
                                          (json_int_t)until, "reason", c->reason ? c->reason : "",
                                          "created", (json_int_t)now));
  } else if (strcmp(op, "remove") == 0 && c->argc == 2) {
    size_t kept = 0;
    json_t *out = json_array();
    json_array_foreach(list, i, s) {
      const char *id = json_string_value(json_object_get(s, "indicator"));
      if (id == NULL || strcmp(id, c->argv[1]) != 0) {
        json_array_append(out, s);
        kept++;
      }
    }
    if (kept == json_array_size(list)) {
      fprintf(stderr, "pacewatch: no silence of '%s' in %s/silences.json\n", c->argv[1], state);
      json_decref(out);
      json_decref(list);
      return cli_find_indicator(c, c->argv[1]) < 0 ? EXIT_USAGE : EXIT_FAIL;
    }
    json_decref(list);
    list = out;
  } else {
    fprintf(stderr, "usage: pacewatch silence -c FILE add ID --until DATE [--reason TEXT] | "
                    "list | remove ID\n");
    json_decref(list);
    return EXIT_USAGE;
  }
  if (pw_silence_save(state, list) < 0) {
    fprintf(stderr, "pacewatch: cannot write %s/silences.json\n", state);
    json_decref(list);
    return EXIT_FAIL;
  }
  printf("%s: silence %s %s\n", c->argv[1], op, strcmp(op, "add") == 0 ? "added" : "done");
  json_decref(list);
  return EXIT_OK;
}
