/* record: adds one sample by hand, through the admission rules of the daemon (admit.h). */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <string.h>

#include "admit.h"
#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "util.h"
#include "value.h"

int cmd_record(struct cli *c) {
  int ind, rc;
  int64_t now = pw_clock_now(), as_of = now;
  double value;
  struct cli_row row;
  struct cli_counts cnt;
  char t[40], v[40], note[PW_NOTE_BUF];
  int nl = 0;

  if (c->argc != 2) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  ind = cli_find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if (c->as_of && cli_time_arg("--as-of", c->as_of, &as_of) < 0)
    return EXIT_USAGE;
  rc = pw_admit_text(&c->conf->indicators[ind], c->argv[1], &value);
  if (rc == PW_ADMIT_NOT_PUBLISHED) {
    fprintf(stderr, "pacewatch: '%s' means not published; nothing recorded for '%s'\n", c->argv[1],
            c->argv[0]);
    return EXIT_FAIL;
  }
  if (rc < 0) {
    fprintf(stderr, "pacewatch: indicator '%s': bad value '%s'\n", c->argv[0], c->argv[1]);
    return EXIT_FAIL;
  }
  rc = pw_admit_as_of(as_of, now);
  if (rc < 0) {
    fprintf(stderr, "pacewatch: indicator '%s': as_of %s is %s\n", c->argv[0],
            pw_calendar_format(as_of, t, sizeof(t)),
            rc == -ERANGE ? "later than tomorrow" : "outside the years " PW_JOURNAL_YEARS);
    return EXIT_FAIL;
  }
  if (c->note != NULL) {
    nl = pw_note_clean(c->note, strlen(c->note), note, sizeof(note));
    if (nl < 0) {
      fprintf(stderr,
              "pacewatch: indicator '%s': the note must be UTF-8 text of at most %d "
              "characters\n",
              c->argv[0], PW_NOTE_MAX);
      return EXIT_USAGE;
    }
  }
  row.line = 0;
  row.ind = ind;
  row.as_of = as_of;
  row.value = value;
  row.note = nl > 0 ? note : NULL;
  if (cli_apply_rows(c, &row, 1, "record", now, &cnt) < 0)
    return EXIT_FAIL;
  if (cnt.dups > 0 && cnt.notes > 0) {
    printf("%s: the same value is already stored for this date; its note is updated\n", c->argv[0]);
    return EXIT_OK;
  }
  if (cnt.dups > 0) {
    printf("%s: the same value is already stored for this date; nothing recorded\n", c->argv[0]);
    return EXIT_OK;
  }
  printf("%s: recorded %s %s as of %s\n", c->argv[0], cnt.revs ? "revision" : "new sample",
         pw_value_format(value, v, sizeof(v)), pw_calendar_format(as_of, t, sizeof(t)));
  return EXIT_OK;
}
