/* status: judges every indicator as of an instant, as a table or the status JSON document. */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <unistd.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "json.h"
#include "report.h"
#include "status.h"
#include "util.h"

/* Below the table, the departments' explanations (说明) of the indicators that have one, in the
 * briefing's and the dashboard's words (pw_report_explanation; docs/cli.md "status"). */
static void print_explanations(FILE *out, const struct pw_config *conf,
                               const struct pw_series *series, int64_t at) {
  struct pw_buf text = {0};
  struct pw_verdict v;
  int i, head = 0;

  for (i = 0; i < conf->n_indicators; i++) {
    const struct pw_explanation *e = pw_status_explanation(&series[i]);

    if (e == NULL)
      continue;
    pw_status_judge(conf, series, i, at, &v);
    text.len = 0;
    if (pw_report_explanation_at(conf, i, e, &v, at, NULL, &text) < 0)
      break;
    if (!head)
      fputs("\n【情况说明】\n", out);
    head = 1;
    fprintf(out, "%s：%s。\n", conf->indicators[i].name, text.data != NULL ? text.data : "");
  }
  pw_buf_free(&text);
}

int cmd_status(struct cli *c) {
  struct pw_journal *j;
  int64_t at = pw_clock_now();

  if (c->argc != 0) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  if (c->at && cli_time_arg("--at", c->at, &at) < 0)
    return EXIT_USAGE;
  if (cli_open_journal(c, &j) < 0)
    return EXIT_FAIL;
  if (c->json) {
    json_t *doc = pw_status_json(c->conf, j->series, at);
    if (doc == NULL || pw_json_dumpf(doc, stdout, JSON_INDENT(2)) < 0) {
      json_decref(doc);
      pw_journal_close(j);
      return EXIT_FAIL;
    }
    fputc('\n', stdout);
    json_decref(doc);
  } else {
    pw_status_table(stdout, c->conf, j->series, at, isatty(STDOUT_FILENO));
    print_explanations(stdout, c->conf, j->series, at);
  }
  pw_journal_close(j);
  return EXIT_OK;
}
