/*
 * retract and explain: withdraw a wrong sample, and record a department's explanation (说明) of
 * an indicator (docs/cli.md). Both validate here, then go through the running daemon's inbox or,
 * without one, straight to the journal under the state lock (samples.c), like record.
 */
#define PW_LOG_MODULE "cli"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "util.h"
#include "value.h"

/* Whether TEXT (NULL: not given) is text of at most PW_EXPLANATION_MAX characters once cleaned;
 * *EMPTY says whether nothing is left. Prints why not. */
static int text_ok(const char *opt, const char *text, int *empty) {
  char buf[PW_EXPLANATION_BUF];
  int n = text ? pw_text_clean(text, strlen(text), buf, sizeof(buf), PW_EXPLANATION_MAX) : 0;

  if (n < 0) {
    fprintf(stderr, "pacewatch: %s must be UTF-8 text of at most %d characters\n", opt,
            PW_EXPLANATION_MAX);
    return 0;
  }
  *empty = n == 0;
  return 1;
}

int cmd_retract(struct cli *c) {
  struct pw_journal *j;
  int ind, empty = 1, found;
  int64_t as_of, now = pw_clock_now();
  json_t *req;
  char t[40];

  if (c->argc != 2) {
    fprintf(stderr, "usage: pacewatch retract -c FILE ID AS_OF --reason TEXT\n");
    return EXIT_USAGE;
  }
  ind = cli_find_indicator(c, c->argv[0]);
  if (ind < 0 || cli_time_arg("AS_OF", c->argv[1], &as_of) < 0)
    return EXIT_USAGE;
  if (!text_ok("--reason", c->reason, &empty))
    return EXIT_USAGE;
  if (empty) {
    fprintf(stderr, "pacewatch: retract needs --reason TEXT (why the sample is withdrawn)\n");
    return EXIT_USAGE;
  }
  /* Refused before anything is asked of anyone when there is no such sample. */
  if (cli_open_journal(c, &j) < 0)
    return EXIT_FAIL;
  found = pw_journal_find(j, ind, as_of) != NULL;
  pw_journal_close(j);
  if (!found) {
    fprintf(stderr, "pacewatch: indicator '%s' has no sample as of %s; nothing retracted\n",
            c->argv[0], pw_calendar_format(as_of, t, sizeof(t)));
    return EXIT_FAIL;
  }
  req =
      json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "op", "retract", "indicator", c->argv[0], "as_of",
                (json_int_t)as_of, "at", (json_int_t)now, "source", "record", "reason", c->reason);
  if (req == NULL || cli_apply_note_op(c, req, &as_of) < 0) {
    json_decref(req);
    return EXIT_FAIL;
  }
  json_decref(req);
  printf("%s: retracted the sample as of %s\n", c->argv[0],
         pw_calendar_format(as_of, t, sizeof(t)));
  return EXIT_OK;
}

int cmd_explain(struct cli *c) {
  int ind, r_empty = 1, m_empty = 1;
  int64_t as_of = 0, now = pw_clock_now();
  json_t *req;
  char t[40];

  if (c->argc != 1) {
    fprintf(stderr, "usage: pacewatch explain -c FILE ID --reason TEXT [--measures TEXT] "
                    "[--catch-up DATE] [--as-of TIME]\n");
    return EXIT_USAGE;
  }
  ind = cli_find_indicator(c, c->argv[0]);
  if (ind < 0 || (c->as_of && cli_time_arg("--as-of", c->as_of, &as_of) < 0))
    return EXIT_USAGE;
  if (!text_ok("--reason", c->reason, &r_empty) || !text_ok("--measures", c->measures, &m_empty))
    return EXIT_USAGE;
  if (r_empty && m_empty) {
    fprintf(stderr, "pacewatch: explain needs --reason TEXT or --measures TEXT\n");
    return EXIT_USAGE;
  }
  if (c->catch_up && !pw_journal_date_ok(c->catch_up, strlen(c->catch_up))) {
    fprintf(stderr, "pacewatch: --catch-up '%s' is not a date YYYY-MM-DD\n", c->catch_up);
    return EXIT_USAGE;
  }
  if (c->as_of && !pw_journal_time_ok(as_of)) {
    fprintf(stderr, "pacewatch: --as-of is outside the years " PW_JOURNAL_YEARS "\n");
    return EXIT_USAGE;
  }
  req = json_pack("{s:s,s:s,s:I,s:s,s:s?,s:s?,s:s?}", "op", "explain", "indicator", c->argv[0],
                  "at", (json_int_t)now, "source", "record", "reason", c->reason, "measures",
                  c->measures, "catch_up", c->catch_up);
  if (req != NULL && c->as_of)
    json_object_set_new(req, "as_of", json_integer(as_of));
  if (req == NULL || cli_apply_note_op(c, req, &as_of) < 0) {
    json_decref(req);
    return EXIT_FAIL;
  }
  json_decref(req);
  printf("%s: explanation recorded as of %s%s%s\n", c->argv[0],
         pw_calendar_format(as_of, t, sizeof(t)), c->catch_up ? ", catch-up expected by " : "",
         c->catch_up ? c->catch_up : "");
  return EXIT_OK;
}
