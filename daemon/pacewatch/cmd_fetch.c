/*
 * fetch: polls one source now, as the daemon polls it (the same request, pw_sched_request, on
 * a libuv loop of its own with the fetch stage; the same parse and reading of values,
 * pw_ingest_explain), and prints per indicator what its path and as_of select, the value read
 * and what admission would make of it against the journal, read without the state lock. It
 * stores nothing and sends nothing, so it runs beside a daemon (docs/cli.md#fetch). `check
 * --fetch` runs it for every source.
 */
#define PW_LOG_MODULE "cli"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "calendar.h"
#include "cli.h"
#include "clock.h"
#include "fetch.h"
#include "ingest.h"
#include "plugin_host.h"
#include "schedule.h"
#include "util.h"
#include "value.h"

/* One poll's outcome, copied out of the done callback. */
struct poll {
  int done, rc;
  long status;
  char *body;
  size_t len;
  char error[512];
  double ms;
};

/* What the rows of one source came to. */
struct rows {
  const struct pw_config *conf;
  int problems;
};

static void on_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct poll *p = data;

  (void)job;
  p->done = 1;
  p->rc = res->rc;
  p->status = res->status;
  p->ms = res->duration_ms;
  if (res->rc < 0) {
    snprintf(p->error, sizeof(p->error), "%s", res->error ? res->error : "failed");
    return;
  }
  p->body = malloc(res->body_len + 1);
  if (p->body == NULL) {
    p->rc = -ENOMEM;
    snprintf(p->error, sizeof(p->error), "out of memory");
    return;
  }
  memcpy(p->body, res->body, res->body_len);
  p->body[res->body_len] = '\0';
  p->len = res->body_len;
}

static void on_closed(void *data) {
  *(int *)data = 1;
}

/* Polls SRC once on a loop of its own into *P. Returns 0 (P says how it went) or a negative
 * errno after printing why the loop could not run. */
static int poll_once(const struct pw_source *src, struct poll *p) {
  struct pw_fetch_request req;
  struct pw_fetch *f;
  struct pw_fetch_job *job;
  uv_loop_t loop;
  char url[4200], ua[64];
  int rc, closed = 0;

  memset(p, 0, sizeof(*p));
  rc = uv_loop_init(&loop);
  if (rc < 0) {
    fprintf(stderr, "pacewatch: %s\n", uv_strerror(rc));
    return rc;
  }
  snprintf(ua, sizeof(ua), "pacewatch/%s", PW_VERSION);
  rc = pw_fetch_init(&loop, 1, ua, &f);
  if (rc < 0) {
    fprintf(stderr, "pacewatch: cannot start the fetch: %s\n", strerror(-rc));
    uv_loop_close(&loop);
    return rc;
  }
  pw_sched_request(src, &req, url, sizeof(url));
  rc = pw_fetch_start(f, &req, on_done, p, &job);
  if (rc < 0) {
    p->done = 1;
    p->rc = rc;
    snprintf(p->error, sizeof(p->error), "%s", strerror(-rc));
  } else {
    rc = uv_run(&loop, UV_RUN_DEFAULT);
    (void)rc; /* the loop runs until the transfer is done: its handles are then idle */
  }
  pw_fetch_close(f, on_closed, &closed);
  while (!closed && uv_run(&loop, UV_RUN_ONCE) != 0)
    ;
  rc = uv_run(&loop, UV_RUN_DEFAULT);
  (void)rc;
  rc = uv_loop_close(&loop);
  if (rc < 0) {
    fprintf(stderr, "pacewatch: internal: the fetch loop did not close: %s\n", uv_strerror(rc));
    return rc;
  }
  return 0;
}

static const char *outcome_word(int outcome) {
  switch (outcome) {
  case PW_SAMPLE_NEW:
    return "new 新数据";
  case PW_SAMPLE_DUPLICATE:
    return "duplicate 已有同值";
  case PW_SAMPLE_REVISION:
    return "revision 修订";
  case PW_SAMPLE_UNCHANGED:
    return "unchanged 未变";
  case PW_INGEST_NOTHING:
    return "nothing 未发布";
  case PW_INGEST_NOT_FOUND:
    return "bad 路径无数据";
  default:
    return "bad 数据有误";
  }
}

/* One indicator: a row of the table (id, value, as_of, outcome), then what its paths selected. */
static void on_row(void *data, const struct pw_ingest_explained *e) {
  struct rows *r = data;
  const struct pw_indicator *in = &r->conf->indicators[e->ind];
  char t[40], v[40];

  if (e->outcome == PW_INGEST_BAD || e->outcome == PW_INGEST_NOT_FOUND)
    r->problems++;
  printf("%-28s %-16s %-26s %s%s%s\n", in->id,
         e->has_value ? pw_value_format(e->value, v, sizeof(v)) : "-",
         e->has_as_of ? pw_calendar_format(e->as_of, t, sizeof(t)) : "-", outcome_word(e->outcome),
         e->outcome < 0 ? ": " : "", e->outcome < 0 ? e->why : "");
  printf("    path %s -> %s", in->path, e->selected);
  if (e->as_of_path != NULL)
    printf("; as_of %s -> %s\n", e->as_of_path, e->as_of_text ? e->as_of_text : "nothing");
  else if (e->own_as_of)
    printf("; as_of: the sample's timestamp\n");
  else
    printf("; as_of: the fetch time (no as_of path)\n");
  if (e->note != NULL)
    printf("    note 说明: %s\n", e->note);
}

/* Polls source SRC (index in C's configuration) and prints what its indicators (or only
 * indicator ONLY, when >= 0) would come to against journal J. Returns EXIT_OK, or EXIT_FAIL
 * for a source that does not answer or parse, or an indicator whose figure is bad. */
static int fetch_source(struct cli *c, const struct pw_plugins *plugins, const struct pw_journal *j,
                        int source, int only) {
  const struct pw_source *src = &c->conf->sources[source];
  struct rows rows = {c->conf, 0};
  struct poll p;
  char err[1024], shown[512];
  int64_t now = pw_clock_now();
  int i;

  if (pw_config_require(c->conf, src->url, err, sizeof(err)) < 0 ||
      pw_config_require(c->conf, src->proxy, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    return EXIT_FAIL;
  }
  for (i = 0; i < src->headers.n; i++)
    if (pw_config_require(c->conf, src->headers.items[i], err, sizeof(err)) < 0) {
      fprintf(stderr, "%s\n", err);
      return EXIT_FAIL;
    }
  if (poll_once(src, &p) < 0)
    return EXIT_FAIL;
  /* A URL may carry a token (redacted as in every message); a file's path is shown whole. */
  if (src->file != NULL)
    snprintf(shown, sizeof(shown), "%s", src->file);
  else
    pw_redact_url(src->url, shown, sizeof(shown));
  if (p.rc < 0) {
    printf("source %s (%s) %s: failed 采集失败: %s\n", src->id, src->format, shown, p.error);
    return EXIT_FAIL;
  }
  if (p.status > 0)
    printf("source %s (%s) %s: HTTP %ld, %zu bytes, %.0f ms\n", src->id, src->format, shown,
           p.status, p.len, p.ms);
  else
    printf("source %s (%s) %s: %zu bytes\n", src->id, src->format, shown, p.len);
  printf("%-28s %-16s %-26s %s\n", "indicator", "value", "as_of", "outcome");
  if (pw_ingest_explain(plugins, c->conf, j, source, only, p.body, p.len, now, on_row, &rows, err,
                        sizeof(err)) < 0) {
    printf("source %s: %s (解析失败)\n", src->id, err);
    free(p.body);
    return EXIT_FAIL;
  }
  free(p.body);
  return rows.problems > 0 ? EXIT_FAIL : EXIT_OK;
}

int cli_fetch_sources(struct cli *c, int source, int only) {
  struct pw_plugins *plugins;
  struct pw_journal *j;
  char err[1024];
  int i, rc = EXIT_OK;

  if (pw_plugins_load(&plugins, err, sizeof(err)) < 0) {
    fprintf(stderr, "pacewatch: %s\n", err);
    return EXIT_FAIL;
  }
  if (pw_plugins_check_config(plugins, c->conf, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    pw_plugins_free(plugins);
    return EXIT_USAGE;
  }
  /* Read-only: no lock, nothing created; a daemon may be appending meanwhile. */
  if (cli_open_journal(c, &j) < 0) {
    pw_plugins_free(plugins);
    return EXIT_FAIL;
  }
  for (i = 0; i < c->conf->n_sources; i++) {
    if (source >= 0 && i != source)
      continue;
    if (i > 0 && source < 0)
      putchar('\n');
    if (fetch_source(c, plugins, j, i, only) != EXIT_OK)
      rc = EXIT_FAIL;
  }
  pw_journal_close(j);
  pw_plugins_free(plugins);
  return rc;
}

int cmd_fetch(struct cli *c) {
  int source, only = -1;

  if (c->argc != 1) {
    fprintf(stderr, "pacewatch: fetch takes one SOURCE id\n");
    return EXIT_USAGE;
  }
  for (source = 0; source < c->conf->n_sources; source++)
    if (strcmp(c->conf->sources[source].id, c->argv[0]) == 0)
      break;
  if (source == c->conf->n_sources) {
    fprintf(stderr, "pacewatch: unknown source '%s' (not in %s)\n", c->argv[0], c->config_path);
    return EXIT_USAGE;
  }
  if (c->indicator != NULL) {
    only = cli_find_indicator(c, c->indicator);
    if (only < 0)
      return EXIT_USAGE;
    if (c->conf->indicators[only].source != source) {
      fprintf(stderr, "pacewatch: indicator '%s' is not fed by source '%s'\n", c->indicator,
              c->argv[0]);
      return EXIT_USAGE;
    }
  }
  return cli_fetch_sources(c, source, only);
}
