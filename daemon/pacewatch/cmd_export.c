/* export: one indicator's stored samples as CSV or JSON, each with its note, and the withdrawn
 * ones flagged with their retraction (docs/cli.md). */
#define PW_LOG_MODULE "cli"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "cli.h"
#include "json.h"
#include "status.h"
#include "value.h"

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a space, quotes doubled;
 * nothing for NULL. */
static void put_csv_field(const char *s) {
  if (s == NULL)
    return;
  if (strpbrk(s, ",\" ") == NULL) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"')
      putchar('"');
    putchar(*s);
  }
  putchar('"');
}

int cmd_export(struct cli *c) {
  struct pw_journal *j;
  const struct pw_series *s;
  int ind, json;
  int64_t from = INT64_MIN, to = INT64_MAX;
  json_t *arr = NULL;
  size_t i;

  if (c->argc != 1) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  ind = cli_find_indicator(c, c->argv[0]);
  if (ind < 0)
    return EXIT_USAGE;
  if ((c->from && cli_time_arg("--from", c->from, &from) < 0) ||
      (c->to && cli_time_arg("--to", c->to, &to) < 0))
    return EXIT_USAGE;
  if (c->format && strcmp(c->format, "csv") != 0 && strcmp(c->format, "json") != 0) {
    fprintf(stderr, "pacewatch: --format must be csv or json\n");
    return EXIT_USAGE;
  }
  json = c->format && strcmp(c->format, "json") == 0;
  if (cli_open_journal(c, &j) < 0)
    return EXIT_FAIL;
  s = &j->series[ind];
  if (json)
    arr = json_array();
  else
    printf("indicator,as_of,value,fetched_at,revision,note,retracted,retraction_reason\n");
  /* The samples in force in journal order, then the withdrawn revisions in the order they were
   * withdrawn (docs/cli.md#export). */
  for (i = 0; i < s->n + s->n_retracted; i++) {
    const struct pw_retraction *r = i >= s->n ? &s->retracted[i - s->n] : NULL;
    const struct pw_sample *x = r ? &r->sample : &s->samples[i];
    char a[40], f[40], v[40], w[40];
    if (x->as_of < from || x->as_of > to)
      continue;
    pw_calendar_format(x->as_of, a, sizeof(a));
    pw_calendar_format(x->fetched_at, f, sizeof(f));
    if (r != NULL)
      pw_calendar_format(r->at, w, sizeof(w));
    if (json) {
      json_t *o = json_object();
      json_object_set_new(o, "indicator", json_string(c->conf->indicators[ind].id));
      json_object_set_new(o, "as_of", json_string(a));
      json_object_set_new(o, "value", pw_status_number(x->value));
      json_object_set_new(o, "fetched_at", json_string(f));
      json_object_set_new(o, "revision", json_integer(x->rev));
      json_object_set_new(o, "note", x->note ? json_string(x->note) : json_null());
      json_object_set_new(
          o, "retracted",
          r ? json_pack("{s:s,s:s,s:s}", "at", w, "source", r->source, "reason", r->reason)
            : json_null());
      json_array_append_new(arr, o);
    } else {
      printf("%s,%s,%s,%s,%u,", c->conf->indicators[ind].id, a,
             pw_value_format(x->value, v, sizeof(v)), f, x->rev);
      put_csv_field(x->note);
      putchar(',');
      put_csv_field(r ? w : NULL);
      putchar(',');
      put_csv_field(r ? r->reason : NULL);
      putchar('\n');
    }
  }
  if (json) {
    pw_json_dumpf(arr, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(arr);
  }
  pw_journal_close(j);
  return EXIT_OK;
}
